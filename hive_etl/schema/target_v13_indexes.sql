-- Hive AI Rust-era database (hive-ai.db), schema version 13: the 94 explicit indexes.
--
-- Written from the spec facts in target_schema.json. The implicit
-- sqlite_autoindex_* indexes come from the PRIMARY KEY/UNIQUE constraints in
-- target_v13_tables.sql and are not repeated here. Some indexes duplicate a UNIQUE
-- constraint or another index; they are part of the schema and kept as they are.
-- Run after bulk loading.

-- activity_log
CREATE INDEX IF NOT EXISTS idx_activity_log_conversation ON activity_log (conversation_id);
CREATE INDEX IF NOT EXISTS idx_activity_log_created ON activity_log (created_at);
CREATE INDEX IF NOT EXISTS idx_activity_log_event ON activity_log (event_type);
CREATE INDEX IF NOT EXISTS idx_activity_log_stage ON activity_log (stage);
CREATE INDEX IF NOT EXISTS idx_activity_log_user ON activity_log (user_id);

-- budget_limits
CREATE INDEX IF NOT EXISTS idx_budget_user ON budget_limits (user_id);

-- configurations
CREATE INDEX IF NOT EXISTS idx_configurations_user ON configurations (user_id);

-- consensus_facts
CREATE INDEX IF NOT EXISTS idx_consensus_facts_access_count ON consensus_facts (access_count);
CREATE INDEX IF NOT EXISTS idx_consensus_facts_confidence ON consensus_facts (curator_confidence);
CREATE INDEX IF NOT EXISTS idx_consensus_facts_created_at ON consensus_facts (created_at);
CREATE INDEX IF NOT EXISTS idx_consensus_facts_fingerprint ON consensus_facts (semantic_fingerprint);
CREATE INDEX IF NOT EXISTS idx_consensus_facts_topics ON consensus_facts (topics);

-- consensus_metrics
CREATE INDEX IF NOT EXISTS idx_consensus_metrics_category ON consensus_metrics (question_category);
CREATE INDEX IF NOT EXISTS idx_consensus_metrics_complexity ON consensus_metrics (question_complexity);
CREATE INDEX IF NOT EXISTS idx_consensus_metrics_conv ON consensus_metrics (conversation_id);
CREATE INDEX IF NOT EXISTS idx_consensus_metrics_created ON consensus_metrics (created_at);
CREATE INDEX IF NOT EXISTS idx_consensus_metrics_improvement ON consensus_metrics (improvement_score);
CREATE INDEX IF NOT EXISTS idx_consensus_metrics_rating ON consensus_metrics (user_rating);

-- conversation_context
CREATE INDEX IF NOT EXISTS idx_conversation_context_conv ON conversation_context (conversation_id);
CREATE INDEX IF NOT EXISTS idx_conversation_context_ref ON conversation_context (referenced_conversation_id);
CREATE INDEX IF NOT EXISTS idx_conversation_context_type ON conversation_context (context_type);

-- conversation_keywords
CREATE INDEX IF NOT EXISTS idx_conversation_keywords_conv ON conversation_keywords (conversation_id);

-- conversation_threads
CREATE INDEX IF NOT EXISTS idx_conversation_threads_child ON conversation_threads (child_conversation_id);
CREATE INDEX IF NOT EXISTS idx_conversation_threads_created ON conversation_threads (created_at);
CREATE INDEX IF NOT EXISTS idx_conversation_threads_parent ON conversation_threads (parent_conversation_id);
CREATE INDEX IF NOT EXISTS idx_conversation_threads_type ON conversation_threads (thread_type);

-- conversation_topics
CREATE INDEX IF NOT EXISTS idx_conversation_topics_conv ON conversation_topics (conversation_id);

-- conversation_usage
CREATE INDEX IF NOT EXISTS idx_conversation_usage_license_key ON conversation_usage (license_key);
CREATE INDEX IF NOT EXISTS idx_conversation_usage_timestamp ON conversation_usage (timestamp);
CREATE UNIQUE INDEX IF NOT EXISTS idx_conversation_usage_token_unique ON conversation_usage (conversation_token);
CREATE INDEX IF NOT EXISTS idx_conversation_usage_verified ON conversation_usage (verified);
CREATE INDEX IF NOT EXISTS idx_usage_conversation ON conversation_usage (conversation_id);
CREATE INDEX IF NOT EXISTS idx_usage_timestamp_legacy ON conversation_usage (timestamp);

-- conversations
CREATE INDEX IF NOT EXISTS idx_conversations_profile ON conversations (consensus_profile_id);
CREATE INDEX IF NOT EXISTS idx_conversations_user ON conversations (user_id);

-- cost_analytics
CREATE INDEX IF NOT EXISTS idx_cost_analytics_budget ON cost_analytics (budget_utilized_percentage);
CREATE INDEX IF NOT EXISTS idx_cost_analytics_conv ON cost_analytics (conversation_id);
CREATE INDEX IF NOT EXISTS idx_cost_analytics_cost ON cost_analytics (total_cost);
CREATE INDEX IF NOT EXISTS idx_cost_analytics_created ON cost_analytics (created_at);
CREATE INDEX IF NOT EXISTS idx_cost_analytics_efficiency ON cost_analytics (cost_efficiency_score);

-- curator_truths
CREATE INDEX IF NOT EXISTS idx_curator_truths_confidence ON curator_truths (confidence_score);
CREATE INDEX IF NOT EXISTS idx_curator_truths_conv ON curator_truths (conversation_id);

-- daily_usage_summary
CREATE INDEX IF NOT EXISTS idx_daily_usage_date ON daily_usage_summary (date);
CREATE INDEX IF NOT EXISTS idx_daily_usage_user_date ON daily_usage_summary (user_id, date);

-- feature_usage
CREATE INDEX IF NOT EXISTS idx_feature_usage_conv ON feature_usage (conversation_id);
CREATE INDEX IF NOT EXISTS idx_feature_usage_created ON feature_usage (created_at);
CREATE INDEX IF NOT EXISTS idx_feature_usage_fallbacks ON feature_usage (fallback_events);
CREATE INDEX IF NOT EXISTS idx_feature_usage_switches ON feature_usage (provider_switches);

-- improvement_patterns
CREATE INDEX IF NOT EXISTS idx_improvement_patterns_conv ON improvement_patterns (conversation_id);
CREATE INDEX IF NOT EXISTS idx_improvement_patterns_question_type ON improvement_patterns (question_type);
CREATE INDEX IF NOT EXISTS idx_improvement_patterns_stages ON improvement_patterns (from_stage, to_stage);
CREATE INDEX IF NOT EXISTS idx_improvement_patterns_type ON improvement_patterns (improvement_type);

-- knowledge_conversations
CREATE INDEX IF NOT EXISTS idx_knowledge_conversations_created ON knowledge_conversations (created_at);
CREATE INDEX IF NOT EXISTS idx_knowledge_conversations_id ON knowledge_conversations (conversation_id);
CREATE INDEX IF NOT EXISTS idx_knowledge_conversations_question ON knowledge_conversations (question);

-- licenses
CREATE INDEX IF NOT EXISTS idx_licenses_key ON licenses (key);
CREATE INDEX IF NOT EXISTS idx_licenses_user_id ON licenses (user_id);

-- messages
CREATE INDEX IF NOT EXISTS idx_messages_conversation ON messages (conversation_id);

-- model_rankings
CREATE INDEX IF NOT EXISTS idx_model_rankings_collected ON model_rankings (collected_at);
CREATE INDEX IF NOT EXISTS idx_model_rankings_model ON model_rankings (model_internal_id);
CREATE INDEX IF NOT EXISTS idx_model_rankings_period ON model_rankings (period_start, period_end);
CREATE INDEX IF NOT EXISTS idx_model_rankings_position ON model_rankings (rank_position);
CREATE INDEX IF NOT EXISTS idx_model_rankings_score ON model_rankings (relative_score);
CREATE INDEX IF NOT EXISTS idx_model_rankings_source ON model_rankings (ranking_source);

-- model_selection_history
CREATE INDEX IF NOT EXISTS idx_model_selection_conv ON model_selection_history (conversation_id);
CREATE INDEX IF NOT EXISTS idx_model_selection_created ON model_selection_history (created_at);
CREATE INDEX IF NOT EXISTS idx_model_selection_feedback ON model_selection_history (user_feedback);
CREATE INDEX IF NOT EXISTS idx_model_selection_template ON model_selection_history (template_used);

-- openrouter_models
CREATE INDEX IF NOT EXISTS idx_models_name ON openrouter_models (name);
CREATE INDEX IF NOT EXISTS idx_models_provider ON openrouter_models (provider_id);
CREATE INDEX IF NOT EXISTS idx_models_provider_name ON openrouter_models (provider_name);

-- pending_sync
CREATE INDEX IF NOT EXISTS idx_pending_sync_attempts ON pending_sync (sync_attempts);
CREATE INDEX IF NOT EXISTS idx_pending_sync_created ON pending_sync (created_at);
CREATE INDEX IF NOT EXISTS idx_pending_sync_user ON pending_sync (user_id);

-- performance_metrics
CREATE INDEX IF NOT EXISTS idx_performance_metrics_conv ON performance_metrics (conversation_id);
CREATE INDEX IF NOT EXISTS idx_performance_metrics_cost ON performance_metrics (total_cost);
CREATE INDEX IF NOT EXISTS idx_performance_metrics_duration ON performance_metrics (total_duration);
CREATE INDEX IF NOT EXISTS idx_performance_metrics_timestamp ON performance_metrics (timestamp);

-- pipeline_profiles
CREATE INDEX IF NOT EXISTS idx_pipeline_profiles_user ON pipeline_profiles (user_id);
CREATE INDEX IF NOT EXISTS idx_profiles_default ON pipeline_profiles (is_default);
CREATE INDEX IF NOT EXISTS idx_profiles_name ON pipeline_profiles (name);

-- profile_templates
CREATE INDEX IF NOT EXISTS idx_profile_templates_auto_update ON profile_templates (auto_update);
CREATE INDEX IF NOT EXISTS idx_profile_templates_effectiveness ON profile_templates (effectiveness_score);
CREATE INDEX IF NOT EXISTS idx_profile_templates_expert ON profile_templates (expert_mode);
CREATE INDEX IF NOT EXISTS idx_profile_templates_name ON profile_templates (name);
CREATE INDEX IF NOT EXISTS idx_profile_templates_usage ON profile_templates (usage_count);

-- provider_performance
CREATE INDEX IF NOT EXISTS idx_provider_performance_latency ON provider_performance (avg_latency_ms);
CREATE INDEX IF NOT EXISTS idx_provider_performance_measured ON provider_performance (measured_at);
CREATE INDEX IF NOT EXISTS idx_provider_performance_model ON provider_performance (model_internal_id);
CREATE INDEX IF NOT EXISTS idx_provider_performance_provider ON provider_performance (provider_name);
CREATE INDEX IF NOT EXISTS idx_provider_performance_success ON provider_performance (success_rate);
CREATE INDEX IF NOT EXISTS idx_provider_performance_variant ON provider_performance (routing_variant);

-- usage_records
CREATE INDEX IF NOT EXISTS idx_usage_timestamp ON usage_records (timestamp);
CREATE INDEX IF NOT EXISTS idx_usage_user ON usage_records (user_id);
