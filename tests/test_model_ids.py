"""Model identifier rules (contract section 4), each on small hand-made cases."""

import hashlib

import pytest

from hive_etl.transform.model_ids import (
    Aliases, SourceModel, canonicalise, id_key, plan_catalog, provider_of, resolve_references, shipped_aliases,
)

ALIASES = Aliases.from_data({
    "routing_suffixes": [":nitro", ":floor", ":online", ":free", ":beta", ":extended"],
    "renames": {"anthropic/claude-3-5-sonnet": "anthropic/claude-3.5-sonnet"},
    "unknown_provider": "unknown",
})
SEEDED = {"anthropic/claude-3.5-sonnet": 1, "openai/gpt-4o": 2, "openai/gpt-4": 4}


def decisions(models, catalog=SEEDED):
    result = plan_catalog([SourceModel(str(k), oid, i) for i, (k, oid) in enumerate(models, 1)], catalog, ALIASES)
    return [(d.internal_id, d.resolution) for d in result.catalog]


# Rule 1: canonicalisation -------------------------------------------------------------------

@pytest.mark.parametrize("raw, canonical, suffixes", [
    ("  Anthropic/Claude-3.5-Sonnet ", "anthropic/claude-3.5-sonnet", ()),
    ("openai/gpt-4o:nitro", "openai/gpt-4o", (":nitro",)),
    ("openai/gpt-4o:FREE", "openai/gpt-4o", (":free",)),
    ("perplexity/sonar:online:extended", "perplexity/sonar", (":online", ":extended")),
    ("x-ai/grok-beta", "x-ai/grok-beta", ()),            # "-beta" is part of the name, not a suffix
])
def test_canonicalise_trims_lowercases_and_strips_routing_suffixes(raw, canonical, suffixes):
    result = canonicalise(raw, ALIASES)
    assert (result.id, result.suffixes) == (canonical, suffixes)


def test_known_renames_come_from_the_alias_table():
    result = canonicalise("Anthropic/Claude-3-5-Sonnet:nitro", ALIASES)
    assert result.id == "anthropic/claude-3.5-sonnet"
    assert result.renamed_from == "anthropic/claude-3-5-sonnet"


def test_similar_names_are_never_guessed():
    assert canonicalise("anthropic/claude-35-sonnet", ALIASES).id == "anthropic/claude-35-sonnet"
    assert decisions([(30, "anthropic/claude-35-sonnet")]) == [(30, "kept")]


def test_shipped_alias_table_loads_from_pipelines():
    aliases = shipped_aliases()
    assert ":nitro" in aliases.suffixes
    assert canonicalise("openai/gpt-4-turbo-preview", aliases).id == "openai/gpt-4-turbo"


# Rule 2: which internal_id --------------------------------------------------------------------

def test_a_matched_model_takes_the_target_internal_id():
    assert decisions([(27, "anthropic/claude-3.5-sonnet")]) == [(1, "matched")]


def test_an_unmatched_model_keeps_its_free_internal_id():
    assert decisions([(30, "cohere/command-r")]) == [(30, "kept")]


def test_an_unmatched_model_whose_id_is_taken_gets_the_next_free_number():
    # internal_id 1 is the seeded claude-3.5-sonnet: the user's model 1 must not take it.
    assert decisions([(1, "openai/gpt-4o-mini"), (5, "cohere/command-r")]) == [(6, "renumbered"), (5, "kept")]


def test_renumbering_never_steals_a_number_a_later_model_keeps():
    assert decisions([(2, "a/one"), (5, "b/two")]) == [(6, "renumbered"), (5, "kept")]


def test_sha1_text_ids_always_get_a_new_integer():
    sha = hashlib.sha1(b"mistralai/mixtral-8x7b-instruct").hexdigest()
    assert decisions([(sha, "mistralai/mixtral-8x7b-instruct")]) == [(5, "sha1-text")]


def test_source_rows_that_canonicalise_alike_merge_into_one_catalog_row():
    result = decisions([(30, "cohere/command-r"), (31, "Cohere/Command-R:nitro"), (32, "openai/gpt-4o:free")])
    assert result == [(30, "kept"), (30, "merged (suffix :nitro)"), (2, "matched (suffix :free)")]


def test_only_the_first_of_several_matches_is_written():
    plan = plan_catalog([SourceModel("7", "openai/gpt-4o", 1), SourceModel("8", "openai/gpt-4o:nitro", 2)], SEEDED, ALIASES)
    assert [d.writes_row for d in plan.catalog] == [True, False]


def test_id_keys_agree_for_integers_numeric_text_and_reals():
    assert id_key(5) == id_key("5") == id_key(5.0) == id_key(" 5 ") == "5"
    assert id_key("ABCDEF") == "abcdef"


# Rule 5: every text reference resolves --------------------------------------------------------

def test_text_references_resolve_to_catalog_rows_or_inactive_placeholders():
    plan = plan_catalog([SourceModel("30", "cohere/command-r", 1)], SEEDED, ALIASES)
    resolve_references(plan, ["openai/gpt-4o:nitro", "Cohere/Command-R", "x-ai/grok-beta", "gpt-4o"], ALIASES)
    got = {d.source: (d.internal_id, d.resolution, d.new_row) for d in plan.references}
    assert got["openai/gpt-4o:nitro"] == (2, "catalog (suffix :nitro)", False)
    assert got["Cohere/Command-R"] == (30, "catalog", False)
    assert got["x-ai/grok-beta"][1:] == ("placeholder", True)
    assert got["gpt-4o"][1:] == ("placeholder", True)
    new_ids = {got["x-ai/grok-beta"][0], got["gpt-4o"][0]}
    assert new_ids.isdisjoint({1, 2, 4, 30}) and len(new_ids) == 2


def test_placeholder_provider_is_the_part_before_the_slash():
    assert provider_of("x-ai/grok-beta", ALIASES) == "x-ai"
    assert provider_of("gpt-4o", ALIASES) == "unknown"
