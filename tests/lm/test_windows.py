"""Window plans (audiolm_lib.lm.windows): the plain plan as before, anchored windows keep the prompt's tail in
view within the window, every new frame made once."""
import pytest
import torch

from audiolm_lib.lm.windows import Window, plan_windows


def plain_plan(known, total, window, context):
    """The plan before anchors (kept here as the reference the anchor-free plan must equal)."""
    spans, cursor = [], known
    while cursor < total:
        start = 0 if total <= window else max(0, min(cursor - context, total - window))
        end = min(total, start + window)
        spans.append((start, cursor, end))
        cursor = end
    return spans


CASES = [(150, 500, 300, 150), (200, 700, 300, 150), (0, 500, 300, 150), (150, 250, 300, 150), (40, 500, 300, 150),
         (3, 40, 10, 3), (7, 40, 10, 5), (25, 31, 10, 3), (5, 5, 10, 3)]


@pytest.mark.parametrize("known, total, window, context", CASES)
def test_without_anchor_the_plan_is_the_plain_one(known, total, window, context):
    spans = plan_windows(known, total, window=window, context=context)
    assert [tuple(w) for w in spans] == [(*s, 0, 0) for s in plain_plan(known, total, window, context)]
    assert all(w.anchor == 0 and w.known == w.first_new - w.start for w in spans)


@pytest.mark.parametrize("known, total, window, context", CASES)
@pytest.mark.parametrize("share", [0.3, 0.6, 1.0])
def test_anchored_windows_see_the_prompt_tail_and_make_each_frame_once(known, total, window, context, share):
    anchor = round(share * context)
    spans = plan_windows(known, total, window=window, context=context, anchor=anchor)
    made = torch.zeros(total, dtype=torch.long)
    for w in spans:
        frames = w.frames()
        assert w.length == len(frames) <= window
        assert torch.equal(frames[w.known:], torch.arange(w.first_new, w.end))  # the new frames come last
        assert (frames[: w.known] < w.first_new).all() and len(set(frames.tolist())) == len(frames)
        tail = set(range(max(0, known - anchor), known))
        assert tail <= set(frames[: w.known].tolist())  # the prompt's last ``anchor`` frames are in view
        made[w.first_new:w.end] += 1
    assert (made[known:] == 1).all() and (made[:known] == 0).all()
    if known < total:
        assert spans[0] == Window(*plain_plan(known, total, window, context)[0])  # the first window is the plain one


def test_an_anchored_later_window_trades_generated_context_for_the_prompt():
    plain = plan_windows(150, 500, window=300, context=150)
    anchored = plan_windows(150, 500, window=300, context=150, anchor=75)
    assert plain[1] == Window(150, 300, 450)  # generated frames only: the prompt (frames < 150) is out of view
    assert anchored[1] == Window(225, 300, 450, 75, 150)  # its last 1.5 s, then 75 generated frames
    assert anchored[1].known == 150 and anchored[1].length == 300


def test_bad_plans_are_refused():
    with pytest.raises(ValueError, match="anchor"):
        plan_windows(10, 40, window=10, context=3, anchor=4)
    with pytest.raises(ValueError, match="context"):
        plan_windows(10, 40, window=10, context=10)
