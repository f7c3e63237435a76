"""bf16 autocast vs fp32 on this machine: what `precision="auto"` picks, and whether that choice is the faster one.

    python benchmarks/precision_probe.py [--notes 32] [--tokens 113] [--repeats 2]

`notellm_hf.precision` takes bf16 where the CPU reports AMX or avx512_bf16 and fp32 elsewhere (bf16 was >10x slower
on a CPU without either). This probe times SmolLM2-135M-Instruct on one batch (``--notes`` x ``--tokens`` token ids,
the CPU configs' note length) side by side in one process: a forward under inference mode, and a forward + backward of
the decoder (the loss is the mean square of the last hidden states, so the LM head's vocabulary projection, which
training runs only on labelled positions, does not dominate). Each timing is the best of ``--repeats`` after a warm-up
call. Prints and writes the CPU model, its bf16 flags, the choice, and the times (`--out`, JSON), so that every machine
kind gets its own row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from common import BACKBONE, cpu_description

from notellm_hf.backbones import load_backbone, resolve_backbone
from notellm_hf.precision import fastest_seconds, resolve_precision

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=int, default=32)
    parser.add_argument("--tokens", type=int, default=113)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "outputs" / "precision_probe.json"))
    args = parser.parse_args()

    model, _ = load_backbone(resolve_backbone(BACKBONE))
    decoder = model.model
    input_ids = torch.randint(
        100, model.config.vocab_size, (args.notes, args.tokens), generator=torch.Generator().manual_seed(0)
    )

    def forward(bf16: bool) -> None:
        decoder.eval()
        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            decoder(input_ids=input_ids)

    def forward_backward(bf16: bool) -> None:
        decoder.train()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = decoder(input_ids=input_ids).last_hidden_state.float().pow(2).mean()
        loss.backward()
        decoder.zero_grad(set_to_none=True)

    report = {
        "cpu": cpu_description(),
        "auto_picks": resolve_precision("auto", "cpu"),
        "batch": f"{args.notes} x {args.tokens} tokens",
        "seconds": {},
    }
    for name, step in (("forward", forward), ("forward + backward", forward_backward)):
        step(False)  # warm-up, untimed
        fp32 = fastest_seconds(lambda step=step: step(False), args.repeats)
        step(True)
        bf16 = fastest_seconds(lambda step=step: step(True), args.repeats)
        report["seconds"][name] = {
            "fp32": round(fp32, 2),
            "bf16": round(bf16, 2),
            "bf16 speed-up": round(fp32 / bf16, 2),
        }
        print(f"{name}: fp32 {fp32:.2f} s, bf16 {bf16:.2f} s ({fp32 / bf16:.2f}x)", flush=True)
    print(json.dumps({k: v for k, v in report.items() if k != "seconds"}))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
