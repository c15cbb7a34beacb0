"""L-infinity PGD on images in [0, 1] (normalisation lives inside the model), and the paper's protocols.

`pgd` is batched: sign-gradient steps, projection onto the eps-ball and [0, 1], untargeted
cross-entropy ascent or descent towards a target. Each step's forward pass yields both the gradient
and the success check of the current iterate, so early stopping costs no extra forward; only a final
forward checks the last iterate. Images that succeeded leave the batch when `early_stop` is set.

Per-image randomness (random start, random targets) comes from generators seeded by (seed, dataset
index), so results do not depend on the batch size.

Protocols (REFERENCE.md):
- `paper`: foolbox 1.8 RandomStartProjectedGradientDescentAttack as the paper ran it: targeted to a
  uniformly random wrong class, random start in the eps-ball (not clipped to [0, 1] before the first
  gradient, as foolbox does), step 2/255, the first iterate classified as the target is returned, and
  images that never reach the target keep the clean image.
- `standard`: untargeted, random start clipped to [0, 1], final iterate (Madry et al.).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import torch
import torch.nn.functional as F

PAPER_STEP_SIZE = 2 / 255
NEVER = 0  # success step of an image the attack never fooled (steps count from 1)


@dataclass
class AttackResult:
    adversarial: torch.Tensor  # [N, 3, H, W] in [0, 1]
    success_step: torch.Tensor  # int64 [N]: first step whose iterate fooled the model, NEVER if none
    target: torch.Tensor | None  # int64 [N] for targeted attacks


def _generator(seed: int, index: int, purpose: str) -> torch.Generator:
    # A per-image stream: independent of batch size, of the process (no salted hash()) and of the
    # other purpose's draws.
    digest = hashlib.sha256(f"{seed}:{int(index)}:{purpose}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") & 0x7FFF_FFFF_FFFF_FFFF)


def random_targets(labels: torch.Tensor, seed: int, indices: torch.Tensor) -> torch.Tensor:
    """A class drawn uniformly among the 999 wrong ones, per image."""
    draws = torch.stack([torch.randint(0, 999, (1,), generator=_generator(seed, i, "target"))[0]
                         for i in indices.tolist()]).to(labels.device)
    return draws + (draws >= labels).long()


def uniform_noise(images: torch.Tensor, eps: float, seed: int, indices: torch.Tensor) -> torch.Tensor:
    """Uniform noise in [-eps, eps] of each image's shape, per image."""
    shape = images.shape[1:]
    noise = torch.stack([torch.rand(shape, generator=_generator(seed, i, "start")) for i in indices.tolist()])
    return (noise.to(images.device, images.dtype) * 2 - 1) * eps


def pgd(
    model: torch.nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    eps: float,
    step_size: float,
    steps: int,
    random_start: bool = True,
    target: torch.Tensor | str | None = None,
    early_stop: bool = False,
    seed: int = 0,
    indices: torch.Tensor | None = None,
    clip_start: bool = True,
    record_success: bool = True,
) -> AttackResult:
    """Batched L-infinity PGD. See the module docstring for the semantics.

    `indices` are the images' dataset indices (for per-image randomness; default 0..N-1).
    `clip_start=False` keeps foolbox's unclipped random start. With `early_stop`, an image's
    returned iterate is the first that fooled the model; otherwise it is the final iterate.
    `record_success=False` skips the success bookkeeping and the final check's forward pass (for a
    caller that evaluates the final iterate anyway); `success_step` is then all NEVER.
    """
    if eps < 0 or step_size < 0 or steps < 0:
        raise ValueError(f"eps, step_size and steps must be >= 0, got {eps}, {step_size}, {steps}")
    if early_stop and not record_success:
        raise ValueError("early_stop needs record_success")
    x0 = images.detach().float()
    labels = labels.to(x0.device)
    n = len(x0)
    indices = torch.arange(n) if indices is None else indices.cpu()
    if isinstance(target, str):
        if target != "random":
            raise ValueError(f"target must be None, 'random' or a tensor of classes, got {target!r}")
        target = random_targets(labels, seed, indices)
    elif target is not None:
        target = target.to(x0.device)
    goal = labels if target is None else target  # the class whose cross-entropy is ascended / descended
    x = x0.clone()
    if random_start and eps > 0:
        x = x0 + uniform_noise(x0, eps, seed, indices)
        if clip_start:
            x = x.clamp(0, 1)
    success = torch.full((n,), NEVER, dtype=torch.long, device=x0.device)
    returned = x0.clone()
    # The still-running images, compacted: no gather/scatter of the whole batch at every step.
    active, xa, x0a, ya = torch.arange(n, device=x0.device), x, x0, goal
    last = steps if record_success else steps - 1
    for step in range(last + 1):
        if len(active) == 0:
            break
        grad_needed = step < steps
        xa = xa.detach().requires_grad_(grad_needed)
        with torch.set_grad_enabled(grad_needed):
            logits = model(xa)
        keep = None
        if step > 0 and record_success:  # these logits tell whether iterate `step` fooled the model
            pred = logits.detach().argmax(dim=1)
            fooled = pred != ya if target is None else pred == ya
            first = fooled & (success[active] == NEVER)
            success[active[first]] = step
            returned[active[first]] = xa.detach()[first]
            if early_stop:
                keep = ~fooled
        if step == steps:
            break
        loss = F.cross_entropy(logits.float() if keep is None else logits[keep].float(),
                               ya if keep is None else ya[keep], reduction="sum")
        (grad,) = torch.autograd.grad(-loss if target is not None else loss, xa)
        xa = xa.detach()
        if keep is not None:
            x[active[~keep]] = xa[~keep]
            active, xa, x0a, ya, grad = active[keep], xa[keep], x0a[keep], ya[keep], grad[keep]
        xa = (x0a + (xa + step_size * grad.sign() - x0a).clamp(-eps, eps)).clamp(0, 1)
    x[active] = xa.detach()
    if early_stop:
        never = success == NEVER
        returned[never] = x[never]
        adversarial = returned
    else:
        adversarial = x
    return AttackResult(adversarial.detach(), success, target)


def paper_attack(model, images, labels, *, eps: float, steps: int, seed: int = 0,
                 indices: torch.Tensor | None = None) -> tuple[torch.Tensor, AttackResult]:
    """The paper's protocol: returns (the image each evaluation sees, the attack's result)."""
    result = pgd(model, images, labels, eps=eps, step_size=PAPER_STEP_SIZE, steps=steps, random_start=True,
                 target="random", early_stop=True, seed=seed, indices=indices, clip_start=False)
    kept = torch.where((result.success_step == NEVER).view(-1, 1, 1, 1), images.float(), result.adversarial)
    return kept, result


def standard_attack(model, images, labels, *, eps: float, steps: int, step_size: float = PAPER_STEP_SIZE,
                    seed: int = 0, indices: torch.Tensor | None = None) -> tuple[torch.Tensor, AttackResult]:
    """Untargeted PGD with a clipped random start; the final iterate is evaluated."""
    result = pgd(model, images, labels, eps=eps, step_size=step_size, steps=steps, random_start=True,
                 target=None, early_stop=False, seed=seed, indices=indices, record_success=False)
    return result.adversarial, result


def accuracy_by_steps(clean_correct, success_step, budgets) -> dict[int, "torch.Tensor"]:
    """Paper protocol: per step budget k, which images are still classified correctly.

    An image is correct at budget k when it was correct clean and the attack had not reached its
    target within k steps (the returned image is then the clean one). One attack with the largest
    budget answers every smaller one: its first k iterates are the k-step attack.
    """
    import numpy as np

    clean_correct = np.asarray(clean_correct, dtype=bool)
    success_step = np.asarray(success_step)
    return {k: clean_correct & ((success_step == NEVER) | (success_step > k)) for k in budgets}


class AttackTransform:
    """A `Transform` for `evaluate.measure`: attack each batch (on `crafted_on`, the evaluated model
    itself for white-box) and hand the evaluated model the images the protocol returns.

    Extras stored per image: the first success step and the target class (paper protocol).
    """

    def __init__(self, crafted_on, *, protocol: str, eps: float, steps: int, seed: int):
        if protocol not in ("paper", "standard", "noise"):
            raise ValueError(f"unknown attack protocol {protocol!r}; use 'paper', 'standard' or 'noise'")
        self.model, self.protocol, self.eps, self.steps, self.seed = crafted_on, protocol, eps, steps, seed

    def identity(self) -> dict:
        return {"attack": self.protocol, "eps": self.eps, "steps": self.steps, "step_size": PAPER_STEP_SIZE,
                "seed": self.seed, "crafted_on": self.model.identity()}

    def __call__(self, images: torch.Tensor, labels: torch.Tensor, start: int):
        x = images.float() / 255
        indices = torch.arange(start, start + len(x))
        if self.protocol == "noise":  # the same budget spent on uniform noise: a floor PGD must beat
            with torch.no_grad():
                return (x + uniform_noise(x, self.eps, self.seed, indices)).clamp(0, 1), {}
        attack = paper_attack if self.protocol == "paper" else standard_attack
        evaluated, result = attack(self.model, x, labels, eps=self.eps, steps=self.steps, seed=self.seed,
                                   indices=indices)
        extras = {}
        if self.protocol == "paper":
            extras = {"success_step": result.success_step, "target": result.target}
        return evaluated, extras


# --------------------------------------------------------------------------------------------------
# Feature visualisation (the paper's Figure: maximise single units of the penultimate layer)


def penultimate(model: torch.nn.Module) -> torch.nn.Module:
    """The last `nn.Linear` of the network: its input is the penultimate layer (the pooled features)."""
    linears = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
    if not linears:
        raise ValueError(f"{type(model).__name__} has no nn.Linear classifier to read penultimate features from")
    return linears[-1]


def visualize_features(model: torch.nn.Module, images: torch.Tensor, units: list[int], *, steps: int = 500,
                       step_size: float = 1 / 255, eps: float = 4.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Sign-gradient ascent on each unit's activation, from each start image (no random start).

    Returns (images [S, U, 3, H, W], initial activations [S, U], final activations [S, U]). eps = 4 in
    [0, 1] pixel space leaves the optimisation unconstrained but for the [0, 1] box, as in the paper.
    """
    captured = {}
    hook = penultimate(model).register_forward_pre_hook(lambda mod, args: captured.__setitem__("x", args[0]))
    s, u = len(images), len(units)
    x0 = images.detach().float().repeat_interleave(u, dim=0)
    unit_index = torch.tensor(units, device=x0.device).repeat(s)
    rows = torch.arange(len(x0), device=x0.device)
    try:
        x = x0.clone()
        first = None
        for _ in range(steps + 1):
            x.requires_grad_(True)
            with torch.enable_grad():
                model(x)
                act = captured["x"].flatten(1)[rows, unit_index]
                if first is None:
                    first = act.detach().clone()
                if _ == steps:
                    break
                (grad,) = torch.autograd.grad(act.sum(), x)
            x = (x0 + (x.detach() + step_size * grad.sign() - x0).clamp(-eps, eps)).clamp(0, 1)
        last = act.detach()
    finally:
        hook.remove()
    return x.detach().view(s, u, *images.shape[1:]), first.view(s, u), last.view(s, u)
