"""Known gaps: the cases not handled yet, by id, with why and where the fix belongs.

A case listed here is a strict xfail (``tests/test_bad_inputs.py``): its expectation stays
as it should be, the report lists it as not handled with this reason, and the day the code
is fixed the test passes, fails as XPASS, and the entry is deleted. Found by issue 31's
corpus on 2026-12-06, after the CLI work of part 2 (commit b7681d2).
"""
from __future__ import annotations

EXIT_1 = "exit 1, not 2: {where} raises SystemExit('error: ...'), not a project error"
"""``training.core.cli.command`` reports a project error as one line, exit 2."""
GAPS: dict[str, str] = {
    # exit 1
    **{i: EXIT_1.format(where="benchmarks/headroom.py (HeadroomConfig / sweep)") for i in (
        "headroom_unknown_task_label", "headroom_unknown_method", "headroom_sbs_not_a_recipe",
        "headroom_jump_not_a_recipe")},
    **{i: EXIT_1.format(where="headroom's task-label lookup, used by benchmarks/algoperf.py")
       for i in ("algoperf_targets_unknown_task", "algoperf_score_unknown_task")},
    "budgets_unknown_recipe": EXIT_1.format(where="benchmarks/budgets.py (--recipes)"),
    "surrogate_fit_dataset_missing": EXIT_1.format(where="benchmarks/surrogate.py (loading "
                                                         "the Minari dataset)"),
    **{i: EXIT_1.format(where="benchmarks/leaderboard.py (reading the --from stores)")
       for i in ("protocol_from_empty", "protocol_from_binary", "protocol_from_demonstrations",
                 "protocol_from_other_task_set", "protocol_from_missing")},
    **{i: EXIT_1.format(where="benchmarks/normalised.py (_read_store, read_headroom_csv, "
                              "its missing-file check)") for i in (
        "protocol_headroom_other_kind", "normalised_headroom_missing",
        "normalised_headroom_empty", "normalised_headroom_binary",
        "normalised_headroom_other_kind", "normalised_headroom_csv_of_other_columns",
        "normalised_zero_shot_binary", "normalised_zero_shot_empty",
        "normalised_zero_shot_demonstrations", "zero_shot_vbs_empty")},
    **{i: EXIT_1.format(where="benchmarks/dataset.py (export reading --store)") for i in (
        "dataset_export_store_missing", "dataset_export_store_empty",
        "dataset_export_store_binary", "dataset_export_store_other_kind")},
    **{i: EXIT_1.format(where="benchmarks/surrogate.py (fidelity reading --real)") for i in (
        "surrogate_fidelity_real_missing", "surrogate_fidelity_real_other_kind")},
    **{i: ("exits 1 with no 'error:' prefix: benchmarks/zero_shot.py raises "
           "SystemExit('--runs ...: not a finished meta-training run') for a folder without "
           "best/ and summary.json") for i in ("user_loop_runs_not_a_run",
                                                "zero_shot_runs_not_a_run")},
    # tracebacks
    "run_marl_module_class_needs_argument": (
        "a TypeError traceback: training.run_marl builds a module:Class controller only in the "
        "run (agents.base.from_options); benchmarks.protocol builds a throwaway first and "
        "reports it"),
    "algoperf_targets_reference_missing": (
        "a FileNotFoundError traceback: benchmarks/algoperf.py opens a --reference .jsonl "
        "without checking it exists"),
    **{i: ("a FileNotFoundError traceback: benchmarks/zero_shot.panel_best raises a bare "
           "FileNotFoundError for a missing --calibration (benchmarks.protocol turns it into a "
           "usage error; this command does not)") for i in (
        "user_loop_calibration_missing", "zero_shot_calibration_missing",
        "surrogate_fidelity_calibration_missing")},
    # runs before the refusal
    "protocol_from_checked_before_runs": (
        "benchmarks.protocol reads --from only after the method's runs (it refuses the file "
        "then, exit 1)"),
    "protocol_vbs_missing": (
        "benchmarks.protocol reads --vbs only after the method's runs, then fails with a "
        "FileNotFoundError traceback"),
    "dataset_collect_unknown_zoo": (
        "benchmarks.dataset collect loads a zoo:/run: behaviour inside each run (in a worker), "
        "not before the runs"),
    # wrong or incomplete message
    "protocol_unknown_task_set": (
        "benchmarks/protocol.py builds the default --headroom path from the unknown name and "
        "reports that file missing instead of the unknown task set"),
    "algoperf_score_sbs_not_a_recipe": (
        "benchmarks/algoperf.py never checks --sbs: a name that is no recipe labels no run as "
        "the SBS and the command exits 0"),
    **{i: ("the message names the missing controller.json but not what to pass instead "
           "(agents/base.py read_manifest: 'X holds no saved controller'; meta_train --init "
           "and run_marl --load-agents name Controller.save / zoo:<name>)") for i in (
        "protocol_run_best_lacks_files", "user_loop_runs_best_lacks_files",
        "budgets_controller_folder_empty")},
}

