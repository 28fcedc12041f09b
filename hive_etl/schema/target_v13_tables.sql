-- Hive AI Rust-era database (hive-ai.db), schema version 13: the tables.
--
-- Written from the spec facts in target_schema.json (what PRAGMA table_info,
-- foreign_key_list and index_list report for a real database after the Rust app's
-- migrations 1..13). Column order, declared types, NOT NULL, DEFAULT text and CHECK
-- text are copied verbatim; the quirks are reproduced on purpose, not fixed:
--   * conversations.consensus_profile_id references consensus_profiles_backup,
--     a table that does not exist;
--   * daily_usage_summary.date is declared DATE;
--   * conversations.success_rate and confidence_level have double-quoted defaults
--     ("100", "High"), and success_rate is TEXT.
-- Foreign keys are declared in the reverse of the order the spec lists them, because
-- PRAGMA foreign_key_list reports the last declared first. UNIQUE constraints are
-- declared in the order of their sqlite_autoindex_<table>_<n> numbers.
-- Explicit indexes live in target_v13_indexes.sql (built after bulk loading).

CREATE TABLE activity_log (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    event_type      TEXT    NOT NULL,
    conversation_id TEXT,
    user_id         TEXT,
    stage           TEXT,
    model_used      TEXT,
    provider_name   TEXT,
    cost            REAL,
    duration_ms     INTEGER,
    tokens_used     INTEGER,
    error_message   TEXT,
    metadata        TEXT,
    created_at      TEXT    DEFAULT CURRENT_TIMESTAMP,
    CHECK (event_type IN (
        'query_start', 'query_complete', 'query_error', 'model_switch', 'fallback',
        'rate_limit', 'stage_start', 'stage_complete', 'stage_error', 'pipeline_complete',
        'export', 'budget_alert', 'cost_alert', 'quality_alert', 'performance_alert'
    )),
    CHECK (stage IN ('generator', 'refiner', 'validator', 'curator')),
    FOREIGN KEY (conversation_id) REFERENCES conversations (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
);

CREATE TABLE budget_limits (
    id            TEXT    PRIMARY KEY,
    user_id       TEXT    NOT NULL,
    period_type   TEXT    NOT NULL,
    limit_amount  REAL    NOT NULL,
    current_spent REAL    DEFAULT 0.0,
    period_start  TEXT    NOT NULL,
    period_end    TEXT    NOT NULL,
    is_active     BOOLEAN DEFAULT 1,
    created_at    TEXT    DEFAULT CURRENT_TIMESTAMP,
    updated_at    TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users (id)
);

CREATE TABLE configurations (
    key        TEXT    PRIMARY KEY,
    value      TEXT    NOT NULL,
    encrypted  BOOLEAN DEFAULT 0,
    user_id    TEXT,
    created_at TEXT    DEFAULT CURRENT_TIMESTAMP,
    updated_at TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users (id)
);

CREATE TABLE consensus_facts (
    id                     TEXT    PRIMARY KEY,
    semantic_fingerprint   TEXT    NOT NULL UNIQUE,
    content                TEXT    NOT NULL,
    curator_confidence     REAL    NOT NULL DEFAULT 0.0,
    source_question        TEXT    NOT NULL,
    source_conversation_id TEXT,
    consensus_stages       TEXT    NOT NULL DEFAULT '[]',
    created_at             TEXT    NOT NULL,
    last_accessed          TEXT    NOT NULL,
    access_count           INTEGER NOT NULL DEFAULT 0,
    related_facts          TEXT    NOT NULL DEFAULT '[]',
    topics                 TEXT    NOT NULL DEFAULT '[]',
    entities               TEXT    NOT NULL DEFAULT '[]',
    metadata               TEXT    NOT NULL DEFAULT '{}'
);

CREATE TABLE consensus_metrics (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id     TEXT    NOT NULL,
    baseline_model      TEXT    NOT NULL,
    baseline_result     TEXT    NOT NULL,
    consensus_result    TEXT    NOT NULL,
    improvement_score   REAL    NOT NULL,
    quality_metrics     TEXT    NOT NULL,
    cost_comparison     TEXT    NOT NULL,
    time_comparison     TEXT    NOT NULL,
    user_rating         INTEGER,
    question_complexity TEXT    NOT NULL,
    question_category   TEXT,
    effectiveness_notes TEXT,
    created_at          TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE consensus_profiles (
    id              TEXT PRIMARY KEY,
    profile_name    TEXT NOT NULL,
    generator_model TEXT NOT NULL,
    refiner_model   TEXT NOT NULL,
    validator_model TEXT NOT NULL,
    curator_model   TEXT NOT NULL,
    created_at      TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at      TEXT DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE consensus_settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    updated_at TEXT DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE conversation_context (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id            TEXT    NOT NULL,
    referenced_conversation_id TEXT    NOT NULL,
    relevance_score            REAL    DEFAULT 1.0,
    context_type               TEXT,
    created_at                 TEXT    DEFAULT CURRENT_TIMESTAMP,
    CHECK (context_type IN ('recent_24h', 'thematic', 'direct_reference')),
    FOREIGN KEY (conversation_id) REFERENCES conversations (id),
    FOREIGN KEY (referenced_conversation_id) REFERENCES conversations (id)
);

CREATE TABLE conversation_keywords (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT    NOT NULL,
    keyword         TEXT    NOT NULL,
    frequency       INTEGER DEFAULT 1,
    created_at      TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE conversation_threads (
    id                     INTEGER PRIMARY KEY AUTOINCREMENT,
    child_conversation_id  TEXT    NOT NULL,
    parent_conversation_id TEXT    NOT NULL,
    thread_type            TEXT,
    reference_text         TEXT,
    confidence_score       REAL    DEFAULT 1.0,
    created_at             TEXT    DEFAULT CURRENT_TIMESTAMP,
    CHECK (thread_type IN ('follow_up', 'clarification', 'list_reference', 'continuation')),
    FOREIGN KEY (child_conversation_id) REFERENCES conversations (id),
    FOREIGN KEY (parent_conversation_id) REFERENCES conversations (id)
);

CREATE TABLE conversation_topics (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id TEXT    NOT NULL,
    topic           TEXT    NOT NULL,
    relevance_score REAL    DEFAULT 1.0,
    created_at      TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE conversation_usage (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id    TEXT    NOT NULL UNIQUE,
    user_id            TEXT,
    timestamp          TEXT    DEFAULT CURRENT_TIMESTAMP,
    license_key        TEXT,
    verified           INTEGER DEFAULT 0,
    conversation_token TEXT,
    question_hash      TEXT,
    d1_verified_at     TEXT,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id),
    FOREIGN KEY (user_id) REFERENCES users (id)
);

CREATE TABLE conversations (
    id                    TEXT    PRIMARY KEY,
    user_id               TEXT,
    consensus_profile_id  TEXT,
    total_cost            REAL    DEFAULT 0,
    input_tokens          INTEGER DEFAULT 0,
    output_tokens         INTEGER DEFAULT 0,
    start_time            TEXT,
    end_time              TEXT,
    success_rate          TEXT    DEFAULT "100",
    quality_score         REAL    DEFAULT 0.95,
    consensus_improvement INTEGER DEFAULT 15,
    confidence_level      TEXT    DEFAULT "High",
    success               INTEGER DEFAULT 1,
    created_at            TEXT    DEFAULT CURRENT_TIMESTAMP,
    updated_at            TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (consensus_profile_id) REFERENCES consensus_profiles_backup (id)
);

CREATE TABLE cost_analytics (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id            TEXT    NOT NULL,
    total_cost                 REAL    NOT NULL,
    cost_per_stage             TEXT    NOT NULL,
    tokens_per_stage           TEXT    NOT NULL,
    routing_optimizations      TEXT,
    budget_threshold           REAL,
    budget_utilized_percentage REAL,
    cost_efficiency_score      REAL,
    optimization_opportunities TEXT,
    provider_breakdown         TEXT,
    savings_achieved           REAL    DEFAULT 0.0,
    created_at                 TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE curator_truths (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id  TEXT    NOT NULL UNIQUE,
    curator_output   TEXT    NOT NULL,
    confidence_score REAL    NOT NULL,
    topic_summary    TEXT,
    created_at       TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE daily_usage_summary (
    id                    TEXT    PRIMARY KEY,
    user_id               TEXT    NOT NULL,
    date                  DATE    NOT NULL,
    conversation_count    INTEGER NOT NULL DEFAULT 0,
    total_cost            REAL    NOT NULL DEFAULT 0.0,
    total_tokens          INTEGER NOT NULL DEFAULT 0,
    average_response_time REAL,
    created_at            TEXT    NOT NULL,
    updated_at            TEXT    NOT NULL,
    UNIQUE (user_id, date),
    FOREIGN KEY (user_id) REFERENCES users (id) ON DELETE CASCADE
);

CREATE TABLE feature_usage (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id            TEXT    NOT NULL,
    features_used              TEXT    NOT NULL,
    routing_variants_used      TEXT,
    fallback_events            INTEGER DEFAULT 0,
    provider_switches          INTEGER DEFAULT 0,
    rate_limit_hits            INTEGER DEFAULT 0,
    error_recoveries           INTEGER DEFAULT 0,
    performance_metrics        TEXT,
    advanced_features_used     TEXT,
    cost_optimizations_applied TEXT,
    created_at                 TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE improvement_patterns (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id   TEXT    NOT NULL,
    from_stage        TEXT    NOT NULL,
    to_stage          TEXT    NOT NULL,
    improvement_type  TEXT    NOT NULL,
    description       TEXT    NOT NULL,
    question_type     TEXT    NOT NULL,
    before_content    TEXT,
    after_content     TEXT,
    improvement_score REAL,
    meta_commentary   TEXT,
    created_at        TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE knowledge_conversations (
    id                   TEXT PRIMARY KEY,
    conversation_id      TEXT,
    question             TEXT NOT NULL,
    final_answer         TEXT NOT NULL,
    source_of_truth      TEXT NOT NULL,
    conversation_context TEXT,
    profile_id           TEXT,
    created_at           TEXT DEFAULT CURRENT_TIMESTAMP,
    last_updated         TEXT DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE licenses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    key          TEXT    NOT NULL UNIQUE,
    tier         TEXT    NOT NULL,
    daily_limit  INTEGER NOT NULL,
    features     TEXT,
    user_id      TEXT    NOT NULL,
    email        TEXT,
    expires_at   TEXT,
    validated_at TEXT    NOT NULL,
    created_at   TEXT    DEFAULT CURRENT_TIMESTAMP,
    updated_at   TEXT    DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE messages (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL,
    role            TEXT NOT NULL,
    content         TEXT NOT NULL,
    stage           TEXT,
    model_used      TEXT,
    timestamp       TEXT DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE model_rankings (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    model_internal_id INTEGER NOT NULL,
    ranking_source    TEXT    NOT NULL,
    rank_position     INTEGER NOT NULL,
    usage_percentage  REAL    NOT NULL,
    relative_score    REAL,
    period_start      TEXT    NOT NULL,
    period_end        TEXT    NOT NULL,
    collected_at      TEXT    DEFAULT CURRENT_TIMESTAMP,
    data_quality      TEXT    DEFAULT 'scraped',
    FOREIGN KEY (model_internal_id) REFERENCES openrouter_models (internal_id)
);

CREATE TABLE model_selection_history (
    id                    INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation_id       TEXT    NOT NULL,
    selection_criteria    TEXT    NOT NULL,
    selected_models       TEXT    NOT NULL,
    selection_reasoning   TEXT,
    alternative_models    TEXT,
    selection_performance TEXT,
    user_feedback         INTEGER,
    learning_applied      BOOLEAN DEFAULT 0,
    template_used         TEXT,
    created_at            TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE openrouter_models (
    internal_id       INTEGER PRIMARY KEY AUTOINCREMENT,
    openrouter_id     TEXT    NOT NULL UNIQUE,
    name              TEXT    NOT NULL,
    provider_id       TEXT    NOT NULL,
    provider_name     TEXT    NOT NULL,
    description       TEXT    DEFAULT '',
    capabilities      TEXT    DEFAULT '[]',
    pricing_input     REAL    DEFAULT 0.0,
    pricing_output    REAL    DEFAULT 0.0,
    pricing_image     REAL,
    pricing_request   REAL,
    context_window    INTEGER DEFAULT 4096,
    created_at        INTEGER NOT NULL,
    input_modalities  TEXT    DEFAULT '["text"]',
    output_modalities TEXT    DEFAULT '["text"]',
    is_active         BOOLEAN DEFAULT 1,
    last_updated      TEXT    NOT NULL,
    FOREIGN KEY (provider_id) REFERENCES openrouter_providers (id)
);

CREATE TABLE openrouter_providers (
    id           TEXT    PRIMARY KEY,
    name         TEXT    NOT NULL UNIQUE,
    display_name TEXT    NOT NULL,
    model_count  INTEGER DEFAULT 0,
    average_cost REAL    DEFAULT 0.0,
    capabilities TEXT    DEFAULT '[]',
    last_updated TEXT    NOT NULL,
    is_active    BOOLEAN DEFAULT 1,
    created_at   TEXT    DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE pending_sync (
    conversation_id    TEXT    PRIMARY KEY,
    user_id            TEXT    NOT NULL,
    question_hash      TEXT    NOT NULL,
    conversation_token TEXT    NOT NULL,
    created_at         TEXT    DEFAULT CURRENT_TIMESTAMP,
    sync_attempts      INTEGER DEFAULT 0,
    last_attempt_at    TEXT,
    error_message      TEXT
);

CREATE TABLE performance_metrics (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp          TEXT    NOT NULL,
    conversation_id    TEXT,
    total_duration     INTEGER NOT NULL,
    overall_efficiency REAL    DEFAULT 0,
    openrouter_latency INTEGER DEFAULT 0,
    memory_usage       INTEGER DEFAULT 0,
    total_cost         REAL    DEFAULT 0,
    quality_score      REAL    DEFAULT 0,
    metrics_data       TEXT,
    created_at         TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE pipeline_profiles (
    id                          TEXT    PRIMARY KEY,
    name                        TEXT    NOT NULL,
    user_id                     TEXT,
    is_default                  BOOLEAN DEFAULT 0,
    generator_model_internal_id INTEGER NOT NULL,
    generator_temperature       REAL    DEFAULT 0.7,
    refiner_model_internal_id   INTEGER NOT NULL,
    refiner_temperature         REAL    DEFAULT 0.7,
    validator_model_internal_id INTEGER NOT NULL,
    validator_temperature       REAL    DEFAULT 0.7,
    curator_model_internal_id   INTEGER NOT NULL,
    curator_temperature         REAL    DEFAULT 0.7,
    generator_provider          TEXT,
    generator_model             TEXT,
    refiner_provider            TEXT,
    refiner_model               TEXT,
    validator_provider          TEXT,
    validator_model             TEXT,
    curator_provider            TEXT,
    curator_model               TEXT,
    is_dynamic_template         BOOLEAN DEFAULT 0,
    selection_criteria          TEXT,
    routing_preferences         TEXT,
    cost_controls               TEXT,
    created_at                  TEXT    DEFAULT CURRENT_TIMESTAMP,
    updated_at                  TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (generator_model_internal_id) REFERENCES openrouter_models (internal_id),
    FOREIGN KEY (refiner_model_internal_id) REFERENCES openrouter_models (internal_id),
    FOREIGN KEY (validator_model_internal_id) REFERENCES openrouter_models (internal_id),
    FOREIGN KEY (curator_model_internal_id) REFERENCES openrouter_models (internal_id)
);

CREATE TABLE profile_templates (
    id                  TEXT    PRIMARY KEY,
    name                TEXT    NOT NULL UNIQUE,
    description         TEXT    NOT NULL,
    template_version    TEXT    DEFAULT '1.0',
    selection_criteria  TEXT    NOT NULL,
    routing_preferences TEXT,
    cost_controls       TEXT,
    performance_targets TEXT,
    scope_applicability TEXT    NOT NULL,
    auto_update         BOOLEAN DEFAULT 1,
    learning_enabled    BOOLEAN DEFAULT 1,
    expert_mode         BOOLEAN DEFAULT 0,
    created_by          TEXT,
    usage_count         INTEGER DEFAULT 0,
    effectiveness_score REAL,
    last_updated        TEXT    DEFAULT CURRENT_TIMESTAMP,
    created_at          TEXT    DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE provider_performance (
    id                       INTEGER PRIMARY KEY AUTOINCREMENT,
    model_internal_id        INTEGER NOT NULL,
    provider_name            TEXT    NOT NULL,
    routing_variant          TEXT,
    avg_latency_ms           INTEGER,
    success_rate             REAL    DEFAULT 1.0,
    cost_per_token           REAL,
    uptime_24h               REAL    DEFAULT 1.0,
    error_rate               REAL    DEFAULT 0.0,
    last_success_at          TEXT,
    last_failure_at          TEXT,
    measured_at              TEXT    DEFAULT CURRENT_TIMESTAMP,
    measurement_period_hours INTEGER DEFAULT 24,
    FOREIGN KEY (model_internal_id) REFERENCES openrouter_models (internal_id)
);

CREATE TABLE settings (
    key         TEXT PRIMARY KEY,
    value       TEXT NOT NULL,
    description TEXT,
    updated_at  TEXT DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE sync_metadata (
    id                          TEXT    PRIMARY KEY,
    sync_type                   TEXT    NOT NULL,
    started_at                  TEXT    NOT NULL,
    completed_at                TEXT,
    status                      TEXT    NOT NULL,
    providers_synced            INTEGER DEFAULT 0,
    models_synced               INTEGER DEFAULT 0,
    error_message               TEXT,
    next_sync_due               TEXT    NOT NULL,
    rankings_last_synced        TEXT,
    provider_performance_synced TEXT,
    intelligence_version        TEXT    DEFAULT '1.7.0',
    created_at                  TEXT    DEFAULT CURRENT_TIMESTAMP
);

CREATE TABLE usage_records (
    id              TEXT    PRIMARY KEY,
    user_id         TEXT,
    conversation_id TEXT,
    action_type     TEXT    NOT NULL,
    cost            REAL    DEFAULT 0.0,
    tokens_input    INTEGER DEFAULT 0,
    tokens_output   INTEGER DEFAULT 0,
    model_used      TEXT,
    timestamp       TEXT    DEFAULT CURRENT_TIMESTAMP,
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (conversation_id) REFERENCES conversations (id)
);

CREATE TABLE users (
    id                TEXT PRIMARY KEY,
    email             TEXT UNIQUE,
    license_key       TEXT,
    tier              TEXT DEFAULT 'FREE',
    created_at        TEXT DEFAULT CURRENT_TIMESTAMP,
    updated_at        TEXT DEFAULT CURRENT_TIMESTAMP,
    subscription_tier TEXT DEFAULT 'free',
    last_d1_sync      TEXT
);

-- Migration tracking: one row per applied migration, versions 1..13
-- (applied_at is RFC3339 text).
CREATE TABLE schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT    NOT NULL,
    applied_at TEXT    NOT NULL
);
