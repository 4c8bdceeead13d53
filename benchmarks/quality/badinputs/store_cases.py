"""Command-line cases about files: stores given where another kind, another task set or
nothing is (empty, binary, missing), a store whose last line a kill cut short (the command
works and warns), missing or damaged weights. Rows as in ``cli_cases``."""
from __future__ import annotations

from benchmarks.quality.badinputs.cli_cases import (COLLECT, EXPORT, FIDELITY, FIT, LEADERBOARD,
                                                    NORMALISED, PROTOCOL, SCORE, SELECT, SURROGATE,
                                                    TARGETS, USER_LOOP, ZERO_SHOT)

EMPTY = {"empty.jsonl": b""}
BINARY = {"binary.jsonl": bytes(range(256))}
DEMOS_KIND = "expected a demonstrations store (training.imitate demos)"
ZERO_SHOT_KIND = "expected a zero-shot run store (benchmarks.zero_shot) or a protocol run store"
HEADROOM_KIND = "expected a headroom run store (benchmarks.headroom)"
DATASET_KIND = "expected a transition collection (benchmarks.dataset collect)"

ROWS: dict[str, list[dict]] = {
    "stores": [
        {"id": "imitate_fit_demos_missing", "what": "training.imitate fit --demos <missing>",
         "cli": [*FIT, "--demos", "{tmp}/missing"], "error": "ConfigError",
         "names": ["{tmp}/missing"], "fix": ["python -m training.imitate demos --out DIR"]},
        {"id": "imitate_fit_demos_empty", "what": "training.imitate fit --demos <a folder whose "
         "demonstrations.jsonl is empty>", "files": {"demos/demonstrations.jsonl": ""},
         "cli": [*FIT, "--demos", "{tmp}/demos"], "error": "StoreFormatError",
         "names": ["{tmp}/demos/demonstrations.jsonl", "found an empty file"],
         "fix": [DEMOS_KIND]},
        {"id": "imitate_fit_demos_binary", "what": "training.imitate fit --demos <binary file>",
         "files": BINARY, "cli": [*FIT, "--demos", "{tmp}/binary.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/binary.jsonl", "found binary data"],
         "fix": [DEMOS_KIND]},
        {"id": "imitate_fit_demos_other_kind",
         "what": "training.imitate fit --demos <a zero-shot run store>",
         "cli": [*FIT, "--demos", "{store:zero-shot}"], "error": "StoreFormatError",
         "names": ["{store:zero-shot}", "found a zero-shot run store"], "fix": [DEMOS_KIND]},
        {"id": "imitate_select_demos_missing",
         "what": "training.imitate select --demos <missing>",
         "cli": [*SELECT, "--demos", "{tmp}/missing"], "error": "ConfigError",
         "names": ["{tmp}/missing"], "fix": ["python -m training.imitate demos --out DIR"]},
        {"id": "imitate_select_demos_empty", "what": "training.imitate select --demos <empty "
         "file>", "files": EMPTY, "cli": [*SELECT, "--demos", "{tmp}/empty.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [DEMOS_KIND]},
        {"id": "imitate_select_demos_binary", "what": "training.imitate select --demos <binary "
         "file>", "files": BINARY, "cli": [*SELECT, "--demos", "{tmp}/binary.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/binary.jsonl", "found binary data"],
         "fix": [DEMOS_KIND]},
        {"id": "imitate_select_demos_other_kind",
         "what": "training.imitate select --demos <a headroom run store>",
         "cli": [*SELECT, "--demos", "{store:headroom}"], "error": "StoreFormatError",
         "names": ["{store:headroom}", "found a headroom run store"], "fix": [DEMOS_KIND]},
        {"id": "protocol_from_empty", "what": "benchmarks.protocol --leaderboard --from <empty>",
         "files": EMPTY, "cli": [*LEADERBOARD, "--from", "{tmp}/empty.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [ZERO_SHOT_KIND]},
        {"id": "protocol_from_binary", "what": "benchmarks.protocol --leaderboard --from "
         "<binary file>", "files": BINARY, "cli": [*LEADERBOARD, "--from", "{tmp}/binary.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/binary.jsonl", "found binary data"],
         "fix": [ZERO_SHOT_KIND]},
        {"id": "protocol_from_demonstrations", "what": "benchmarks.protocol --leaderboard "
         "--from <a demonstrations store>",
         "cli": [*LEADERBOARD, "--from", "{store:demonstrations}"], "error": "StoreFormatError",
         "names": ["{store:demonstrations}", "found a demonstrations store"],
         "fix": [ZERO_SHOT_KIND]},
        {"id": "protocol_from_other_task_set", "what": "benchmarks.protocol --leaderboard "
         "--from <a zero-shot store of digits-v0>",
         "cli": [*LEADERBOARD, "--from", "{store:zero-shot@digits-v0}"],
         "error": "StoreFormatError",
         "names": ["{store:zero-shot@digits-v0}",
                   "found a zero-shot run store of task set digits-v0"],
         "fix": ["of task set digits-v1"]},
        {"id": "protocol_from_missing", "what": "benchmarks.protocol --leaderboard --from "
         "<missing>", "cli": [*LEADERBOARD, "--from", "{tmp}/missing.jsonl"],
         "error": "ConfigError", "names": ["{tmp}/missing.jsonl is missing"],
         "fix": ["give run stores that exist"]},
        {"id": "protocol_from_cut_last_line", "what": "benchmarks.protocol --leaderboard --from "
         "<the committed store, its last line cut>", "code": 0,
         "cli": [*LEADERBOARD, "--from", "{file:cut_protocol_store}"],
         "warns": ["{file:cut_protocol_store}", "was cut short"], "writes": ["{tmp}/out/lb.md"]},
        {"id": "protocol_from_checked_before_runs", "what": "benchmarks.protocol --from <empty> "
         "(not --leaderboard): refused before the runs", "files": EMPTY,
         "cli": [*PROTOCOL, "--algo", "static", "--from", "{tmp}/empty.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [ZERO_SHOT_KIND]},
        {"id": "protocol_headroom_missing", "what": "benchmarks.protocol --headroom <missing>",
         "cli": [*PROTOCOL, "--algo", "static", "--headroom", "{tmp}/missing.csv"],
         "error": "argparse", "names": ["--headroom {tmp}/missing.csv is missing"],
         "fix": ["python -m benchmarks.headroom", "pass --headroom FILE"]},
        {"id": "protocol_headroom_other_kind",
         "what": "benchmarks.protocol --headroom <a demonstrations store>",
         "cli": [*PROTOCOL, "--algo", "static", "--headroom", "{store:demonstrations}"],
         "error": "StoreFormatError",
         "names": ["{store:demonstrations}", "found a demonstrations store"],
         "fix": [HEADROOM_KIND]},
        {"id": "protocol_calibration_missing", "what": "benchmarks.protocol --calibration "
         "<missing>", "cli": [*PROTOCOL, "--algo", "static", "--calibration",
                              "{tmp}/missing.csv"],
         "error": "argparse", "names": ["{tmp}/missing.csv is missing"],
         "fix": ["python -m benchmarks.task_sets"]},
        {"id": "protocol_vbs_missing", "what": "benchmarks.protocol --vbs <missing>",
         "cli": [*PROTOCOL, "--algo", "static", "--vbs", "{tmp}/missing.jsonl"],
         "error": "argparse", "names": ["--vbs {tmp}/missing.jsonl is missing"],
         "fix": ["benchmarks.headroom run stores"]},
        {"id": "normalised_headroom_missing", "what": "benchmarks.normalised --headroom "
         "<missing>", "cli": [*NORMALISED, "--headroom", "{tmp}/missing.jsonl", "--zero-shot",
                              "{file:zero_shot_store}"],
         "error": "ConfigError", "names": ["{tmp}/missing.jsonl is missing"],
         "fix": ["run the benchmark that writes it first"]},
        {"id": "normalised_headroom_empty", "what": "benchmarks.normalised --headroom <empty>",
         "files": EMPTY, "cli": [*NORMALISED, "--headroom", "{tmp}/empty.jsonl", "--zero-shot",
                                 "{file:zero_shot_store}"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [HEADROOM_KIND]},
        {"id": "normalised_headroom_binary", "what": "benchmarks.normalised --headroom <binary "
         "file>", "files": BINARY, "cli": [*NORMALISED, "--headroom", "{tmp}/binary.jsonl",
                                           "--zero-shot", "{file:zero_shot_store}"],
         "error": "StoreFormatError", "names": ["{tmp}/binary.jsonl", "found binary data"],
         "fix": [HEADROOM_KIND]},
        {"id": "normalised_headroom_other_kind", "what": "benchmarks.normalised --headroom "
         "<a zero-shot store>", "cli": [*NORMALISED, "--headroom", "{store:zero-shot}",
                                        "--zero-shot", "{file:zero_shot_store}"],
         "error": "StoreFormatError", "names": ["{store:zero-shot}", "found a zero-shot"],
         "fix": [HEADROOM_KIND]},
        {"id": "normalised_headroom_csv_of_other_columns",
         "what": "benchmarks.normalised --headroom <a csv that is not headroom's>",
         "files": {"h.csv": "a,b\n1,2\n"},
         "cli": [*NORMALISED, "--headroom", "{tmp}/h.csv", "--zero-shot",
                 "{file:zero_shot_store}"], "error": "ConfigError",
         "names": ["{tmp}/h.csv is not a benchmarks.headroom result csv", "task, method"],
         "fix": ["give a headroom run store (.jsonl)"]},
        {"id": "normalised_zero_shot_binary", "what": "benchmarks.normalised --zero-shot "
         "<binary file>", "files": BINARY,
         "cli": [*NORMALISED, "--headroom", "{file:headroom_store}", "--zero-shot",
                 "{tmp}/binary.jsonl"], "error": "StoreFormatError",
         "names": ["{tmp}/binary.jsonl", "found binary data"], "fix": [ZERO_SHOT_KIND]},
        {"id": "normalised_zero_shot_empty", "what": "benchmarks.normalised --zero-shot <empty>",
         "files": EMPTY, "cli": [*NORMALISED, "--headroom", "{file:headroom_store}",
                                 "--zero-shot", "{tmp}/empty.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [ZERO_SHOT_KIND]},
        {"id": "normalised_zero_shot_demonstrations", "what": "benchmarks.normalised "
         "--zero-shot <a demonstrations store>",
         "cli": [*NORMALISED, "--headroom", "{file:headroom_store}", "--zero-shot",
                 "{store:demonstrations}"], "error": "StoreFormatError",
         "names": ["{store:demonstrations}", "found a demonstrations store"],
         "fix": [ZERO_SHOT_KIND]},
        {"id": "normalised_cut_last_lines", "what": "benchmarks.normalised with both stores' "
         "last lines cut", "code": 0,
         "cli": [*NORMALISED, "--headroom", "{file:cut_headroom_store}", "--zero-shot",
                 "{file:cut_zero_shot_store}"],
         "warns": ["{file:cut_headroom_store}: line 6 was cut short",
                   "{file:cut_zero_shot_store}: line 6 was cut short"],
         "writes": ["{tmp}/out/n.md"]},
        {"id": "dataset_collect_resume_foreign_store", "what": "benchmarks.dataset collect "
         "--resume --store <a demonstrations store>",
         "cli": [*COLLECT, "--resume", "--store", "{store:demonstrations}"],
         "error": "SweepResumeError",
         "names": ["cannot resume", "{store:demonstrations}", "found a demonstrations store"],
         "fix": ["delete it or run without --resume"]},
        {"id": "dataset_export_store_missing", "what": "benchmarks.dataset export --store "
         "<missing>", "cli": [*EXPORT, "--store", "{tmp}/missing.jsonl"],
         "error": "ConfigError", "names": ["{tmp}/missing.jsonl is missing"],
         "fix": ["python -m benchmarks.dataset collect"]},
        {"id": "dataset_export_store_empty", "what": "benchmarks.dataset export --store <empty>",
         "files": EMPTY, "cli": [*EXPORT, "--store", "{tmp}/empty.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [DATASET_KIND], "absent": ["{tmp}/out/minari"]},
        {"id": "dataset_export_store_binary", "what": "benchmarks.dataset export --store "
         "<binary file>", "files": BINARY, "cli": [*EXPORT, "--store", "{tmp}/binary.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/binary.jsonl", "found binary data"],
         "fix": [DATASET_KIND], "absent": ["{tmp}/out/minari"]},
        {"id": "dataset_export_store_other_kind", "what": "benchmarks.dataset export --store "
         "<a zero-shot run store>", "cli": [*EXPORT, "--store", "{store:zero-shot}"],
         "error": "StoreFormatError", "names": ["{store:zero-shot}", "found a zero-shot"],
         "fix": [DATASET_KIND], "absent": ["{tmp}/out/minari"]},
        {"id": "surrogate_fidelity_real_missing", "what": "benchmarks.surrogate fidelity --real "
         "<missing>", "cli": [*FIDELITY, "--real", "{tmp}/missing.jsonl"],
         "error": "ConfigError", "names": ["{tmp}/missing.jsonl is missing"],
         "fix": ["run benchmarks.zero_shot or benchmarks.protocol first"]},
        {"id": "surrogate_fidelity_real_other_kind", "what": "benchmarks.surrogate fidelity "
         "--real <a demonstrations store>", "cli": [*FIDELITY, "--real", "{store:demonstrations}"],
         "error": "StoreFormatError",
         "names": ["{store:demonstrations}", "found a demonstrations store"],
         "fix": [ZERO_SHOT_KIND]},
        {"id": "surrogate_fidelity_calibration_missing", "what": "benchmarks.surrogate fidelity "
         "--calibration <missing>", "cli": [*FIDELITY, "--real", "{store:zero-shot}",
                                            "--calibration", "{tmp}/missing.csv"],
         "error": "ConfigError", "names": ["{tmp}/missing.csv is missing"],
         "fix": ["python -m benchmarks.task_sets"]},
        {"id": "algoperf_targets_reference_missing", "what": "benchmarks.algoperf targets "
         "--reference <missing store>", "cli": [*TARGETS, "--reference", "{tmp}/missing.jsonl"],
         "error": "ConfigError", "names": ["{tmp}/missing.jsonl"],
         "fix": ["benchmarks.headroom"]},
        {"id": "algoperf_targets_reference_other_kind", "what": "benchmarks.algoperf targets "
         "--reference <a demonstrations store>",
         "cli": [*TARGETS, "--reference", "{store:demonstrations}"], "error": "StoreFormatError",
         "names": ["{store:demonstrations}", "found a demonstrations store"],
         "fix": [HEADROOM_KIND]},
        {"id": "algoperf_targets_file_damaged", "what": "benchmarks.algoperf targets --targets "
         "<a damaged targets file>", "files": {"targets.json": b"\xff\xfe"},
         "cli": [*TARGETS, "--reference", "none+sgd+constant+bce", "--targets",
                 "{tmp}/targets.json"], "error": "ConfigError",
         "names": ["{tmp}/targets.json is not a targets file"],
         "fix": ["restore it from git", "python -m benchmarks.algoperf targets"]},
        {"id": "algoperf_score_headroom_missing", "what": "benchmarks.algoperf score --headroom "
         "<missing>", "cli": [*SCORE, "--headroom", "{tmp}/missing.jsonl"],
         "error": "ConfigError", "names": ["--headroom {tmp}/missing.jsonl is missing"],
         "fix": ["give benchmarks.headroom run stores"]},
        {"id": "algoperf_score_headroom_empty", "what": "benchmarks.algoperf score --headroom "
         "<empty>", "files": EMPTY, "cli": [*SCORE, "--headroom", "{tmp}/empty.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [HEADROOM_KIND]},
        {"id": "algoperf_score_headroom_other_task_set", "what": "benchmarks.algoperf score "
         "--headroom <a headroom store of digits-v0>",
         "cli": [*SCORE, "--headroom", "{store:headroom@digits-v0}"],
         "error": "StoreFormatError",
         "names": ["{store:headroom@digits-v0}",
                   "found a headroom run store of task set digits-v0"],
         "fix": ["of task set digits-v1"]},
        {"id": "algoperf_score_targets_missing", "what": "benchmarks.algoperf score --targets "
         "<missing>", "cli": [*SCORE, "--headroom", "{file:default_task_store}", "--targets",
                              "{tmp}/missing.json"], "error": "ConfigError",
         "names": ["{tmp}/missing.json is missing"],
         "fix": ["python -m benchmarks.algoperf targets"]},
        {"id": "algoperf_score_targets_damaged", "what": "benchmarks.algoperf score --targets "
         "<not JSON>", "files": {"targets.json": b"\xff\xfe"},
         "cli": [*SCORE, "--headroom", "{file:default_task_store}", "--targets",
                 "{tmp}/targets.json"], "error": "ConfigError",
         "names": ["{tmp}/targets.json is not a targets file"], "fix": ["restore it from git"]},
        {"id": "user_loop_calibration_missing", "what": "benchmarks.user_loop --calibration "
         "<missing>", "cli": [*USER_LOOP, "--calibration", "{tmp}/missing.csv"],
         "error": "ConfigError", "names": ["{tmp}/missing.csv is missing"],
         "fix": ["python -m benchmarks.task_sets"]},
        {"id": "zero_shot_vbs_missing", "what": "benchmarks.zero_shot --vbs <missing>",
         "cli": [*ZERO_SHOT, "--vbs", "{tmp}/missing.jsonl"], "error": "argparse",
         "names": ["--vbs {tmp}/missing.jsonl is missing"],
         "fix": ["give benchmarks.headroom run stores that exist"]},
        {"id": "zero_shot_vbs_empty", "what": "benchmarks.zero_shot --vbs <empty>",
         "files": EMPTY, "cli": [*ZERO_SHOT, "--vbs", "{tmp}/empty.jsonl"],
         "error": "StoreFormatError", "names": ["{tmp}/empty.jsonl", "found an empty file"],
         "fix": [HEADROOM_KIND]},
        {"id": "zero_shot_vbs_other_task_set", "what": "benchmarks.zero_shot --vbs <a headroom "
         "store of digits-v1> (--task-set digits-v0)",
         "cli": [*ZERO_SHOT, "--vbs", "{store:headroom}"], "error": "argparse",
         "names": ["--vbs {store:headroom} ran digits-v1", "not --task-set digits-v0"],
         "fix": ["give the VBS stores of that task set"]},
        {"id": "zero_shot_calibration_missing", "what": "benchmarks.zero_shot --calibration "
         "<missing>", "cli": [*ZERO_SHOT, "--calibration", "{tmp}/missing.csv"],
         "error": "ConfigError", "names": ["{tmp}/missing.csv is missing"],
         "fix": ["python -m benchmarks.task_sets"]},
    ],
    "weights": [
        {"id": "surrogate_train_weights_missing", "what": "benchmarks.surrogate train --weights "
         "<missing>", "cli": [*SURROGATE, "--weights", "{tmp}/missing.npz"],
         "error": "ConfigError", "names": ["{tmp}/missing.npz are missing"],
         "fix": ["python -m benchmarks.surrogate fit"]},
        {"id": "surrogate_train_weights_damaged", "what": "benchmarks.surrogate train --weights "
         "<not an archive>", "files": {"w.npz": b"not an archive at all"},
         "cli": [*SURROGATE, "--weights", "{tmp}/w.npz"], "error": "ConfigError",
         "names": ["{tmp}/w.npz are damaged"], "fix": ["fit them again"]},
        {"id": "surrogate_fidelity_weights_truncated", "what": "benchmarks.surrogate fidelity "
         "--weights <the bundled fit cut in half>",
         "cli": [*FIDELITY, "--real", "{store:zero-shot}", "--weights",
                 "{file:truncated_surrogate}"], "error": "ConfigError",
         "names": ["{file:truncated_surrogate} are damaged"], "fix": ["fit them again"]},
    ],
}
