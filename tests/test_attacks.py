"""PGD against oracles: torchattacks (a test-only dependency) and a plain per-image loop written here
from REFERENCE.md's description of the paper's foolbox protocol. Real model, real images."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from robustness_tests.attacks import NEVER, accuracy_by_steps, paper_attack, pgd, random_targets
from robustness_tests.data.batches import iter_batches

torchattacks = pytest.importorskip("torchattacks")


@pytest.fixture(scope="module")
def batch(lite0, val1300):
    data = val1300.take(8, seed=3)
    b = next(iter_batches(data, lite0.spec.preprocessing, 8))
    return torch.from_numpy(b.images).float() / 255, torch.from_numpy(b.labels)


def test_untargeted_pgd_equals_torchattacks(lite0, batch):
    x, y = batch
    ours = pgd(lite0, x, y, eps=0.02, step_size=2 / 255, steps=5, random_start=False)
    theirs = torchattacks.PGD(lite0, eps=0.02, alpha=2 / 255, steps=5, random_start=False)(x, y)
    torch.testing.assert_close(ours.adversarial, theirs, atol=1e-6, rtol=0)
    assert (ours.adversarial - x).abs().max() <= 0.02 + 1e-6
    assert ours.adversarial.min() >= 0 and ours.adversarial.max() <= 1


def reference_paper_loop(model, image, target, eps, step_size, steps):
    """One image at a time, as REFERENCE.md describes foolbox 1.8's targeted PGD with early stop."""
    x0 = image.unsqueeze(0)
    x = x0.clone()
    for step in range(1, steps + 1):
        x.requires_grad_(True)
        loss = F.cross_entropy(model(x), torch.tensor([target]))
        (grad,) = torch.autograd.grad(loss, x)
        x = x.detach() - step_size * grad.sign()  # descend the target's cross-entropy
        x = (x0 + (x - x0).clamp(-eps, eps)).clamp(0, 1)
        with torch.no_grad():
            if int(model(x).argmax()) == target:
                return x[0], step
    return image, NEVER  # never reached the target: the clean image is kept


def test_paper_protocol_equals_a_per_image_reference_loop(lite0, batch):
    x, y = batch
    targets = random_targets(y, seed=5, indices=torch.arange(len(y)))
    assert (targets != y).all()
    steps_seen = []
    for i in range(len(x)):
        # One image per call: the reference runs batches of one, and convolution kernels for other batch
        # sizes differ in the last float bits, which flips the sign of near-zero gradient pixels.
        one = slice(i, i + 1)
        result = pgd(lite0, x[one], y[one], eps=0.01, step_size=2 / 255, steps=6, random_start=False,
                     target=targets[one], early_stop=True, clip_start=False)
        kept = x[i] if result.success_step[0] == NEVER else result.adversarial[0]
        ref_image, ref_step = reference_paper_loop(lite0, x[i], int(targets[i]), 0.01, 2 / 255, 6)
        assert int(result.success_step[0]) == ref_step, i
        torch.testing.assert_close(kept, ref_image, atol=1e-6, rtol=0)
        steps_seen.append(ref_step)
    assert any(s > 0 for s in steps_seen) and NEVER in steps_seen  # both branches covered
    batched = pgd(lite0, x, y, eps=0.01, step_size=2 / 255, steps=6, random_start=False, target=targets,
                  early_stop=True, clip_start=False)
    assert (batched.success_step.numpy() == np.array(steps_seen)).mean() >= 0.75


def test_randomness_is_per_image_not_per_batch(lite0, batch):
    x, y = batch
    whole_kept, whole = paper_attack(lite0, x, y, eps=0.03, steps=4, seed=7)
    halves = [paper_attack(lite0, x[s], y[s], eps=0.03, steps=4, seed=7, indices=torch.arange(8)[s])
              for s in (slice(0, 3), slice(3, 8))]
    assert torch.equal(whole.success_step, torch.cat([h[1].success_step for h in halves]))
    assert torch.equal(whole.target, torch.cat([h[1].target for h in halves]))
    torch.testing.assert_close(whole_kept, torch.cat([h[0] for h in halves]), atol=1e-6, rtol=0)


def test_one_long_attack_answers_every_shorter_budget(lite0, batch):
    x, y = batch
    clean = (lite0(x).argmax(1) == y).detach().numpy()
    long = paper_attack(lite0, x, y, eps=0.01, steps=8, seed=1)[1].success_step.numpy()
    short = paper_attack(lite0, x, y, eps=0.01, steps=3, seed=1)[1].success_step.numpy()
    by_steps = accuracy_by_steps(clean, long, [3, 8])
    np.testing.assert_array_equal(by_steps[3], clean & (short == NEVER))
    assert by_steps[8].sum() <= by_steps[3].sum()


def test_eps_zero_changes_nothing(lite0, batch):
    x, y = batch
    kept, result = paper_attack(lite0, x, y, eps=0.0, steps=3, seed=0)
    assert torch.equal(kept, x) and (result.success_step == NEVER).all()


def test_random_targets_are_uniform_over_wrong_classes():
    labels = torch.zeros(20000, dtype=torch.long)
    t = random_targets(labels, seed=0, indices=torch.arange(20000))
    assert (t != 0).all() and t.min() == 1 and t.max() <= 999
    counts = torch.bincount(t, minlength=1000)[1:].float()
    assert counts.mean() == pytest.approx(20000 / 999) and counts.std() < 8


def test_bad_arguments():
    with pytest.raises(ValueError, match="target must be"):
        pgd(torch.nn.Identity(), torch.zeros(1, 3, 2, 2), torch.zeros(1, dtype=torch.long), eps=0.1,
            step_size=0.1, steps=1, target="most_likely")
    with pytest.raises(ValueError, match=">= 0"):
        pgd(torch.nn.Identity(), torch.zeros(1, 3, 2, 2), torch.zeros(1, dtype=torch.long), eps=-1,
            step_size=0.1, steps=1)
