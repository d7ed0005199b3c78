"""Checks every token layout must pass, shared by the layout test files (each passes its own tiny models).

Tiny models: codebook size ``K``, 3 coarse-stage levels over 2 conditioning levels, semantic vocabulary 12.
"""
import torch


def check_cached_generation_equals_full_recompute(stage, semantic_lm, coarse_lm, fine_lm, naive_greedy, codes: int):
    """Greedy ``generate`` (KV-cached) equals an argmax loop over full teacher-forced recomputation."""
    torch.manual_seed(1)
    if stage == "coarse":
        model, condition = coarse_lm(), torch.randint(0, 12, (2, 9))
        prompt = torch.randint(0, codes, (2, 3, 3))
        out = model.generate(condition, prompt, 6, temperature=0)  # 9 frames <= window of 10
    elif stage == "fine":
        model, condition = fine_lm(), torch.randint(0, codes, (2, 2, 9))
        prompt = torch.randint(0, codes, (2, 3, 2))
        out = model.generate(condition, prompt, temperature=0)
    else:
        model, condition = semantic_lm(), None
        prompt = torch.randint(0, 12, (2, 1, 4))
        out = model.generate(prompt[:, 0], 10, temperature=0)[:, None]
    expected = naive_greedy(model, condition, prompt, prompt.shape[2] + out.shape[2], 12 if stage == "semantic" else codes)
    assert torch.equal(out, expected)


def check_overfits_and_regenerates(fine_lm, codes: int, frames: int = 8):
    """A tiny fine model memorises a short clip (loss < 0.1) and greedy generation reproduces it."""
    torch.manual_seed(0)
    model = fine_lm().train()
    coarse, fine = torch.randint(0, codes, (2, 2, frames)), torch.randint(0, codes, (2, 3, frames))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    first = model(coarse, fine).item()
    for _ in range(150):
        opt.zero_grad()
        loss = model(coarse, fine)
        loss.backward()
        opt.step()
    assert first > 2.0 and loss.item() < 0.1
    model.eval()
    assert torch.equal(model.generate(coarse, fine[:, :, :1], temperature=0), fine[:, :, 1:])


def check_same_seed_same_output_and_batch_equals_items(coarse_lm, fine_lm, codes: int):
    """A seeded generator reproduces the output exactly (another seed changes it); a batch equals its items."""
    gen = lambda seed: torch.Generator().manual_seed(seed)  # noqa: E731
    model = coarse_lm()
    sem = torch.randint(0, 12, (3, 12))
    a, b = model.generate(sem, None, 12, generator=gen(5)), model.generate(sem, None, 12, generator=gen(5))
    assert torch.equal(a, b) and not torch.equal(a, model.generate(sem, None, 12, generator=gen(6)))
    fine = fine_lm()
    coarse, prompt = torch.randint(0, codes, (3, 2, 25)), torch.randint(0, codes, (3, 3, 4))
    batch = fine.generate(coarse, prompt, temperature=0)
    assert torch.equal(batch, torch.cat([fine.generate(coarse[i : i + 1], prompt[i : i + 1], temperature=0)
                                         for i in range(3)]))
