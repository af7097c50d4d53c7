"""A lean PPO over a compiled genome, in the spirit of CleanRL's ``ppo.py``.

One rollout of ``num_steps`` vector steps, GAE, then ``update_epochs`` passes
of minibatch SGD on the clipped surrogate, the value loss and an entropy
bonus, with gradient clipping and optional learning-rate / clip annealing.

Time limits: a truncated episode is bootstrapped with the value of its final
observation; a terminated one is not. With next-step autoreset (see
:mod:`growagent.rl.envs`) the step after an episode end carries the final
observation and an ignored action; it is used only for that bootstrap value
and is masked out of the loss.

The minibatch step (forward, loss, backward, gradient clip, Adam) is one
object chosen once (:func:`make_ppo_step`): for a Discrete policy with the
plain value loss, the loss's gradient in closed form carried through the
network by hand in NumPy where the genome's activations allow it, else by
autograd; for anything else :func:`~growagent.rl.losses.ppo_loss` and
autograd. All step the same flat Adam; ``tests/growagent/rl/test_ppo.py``
checks that they agree.

Deterministic for a given seed on one thread (``torch.set_num_threads(1)``):
sampling uses its own ``torch.Generator`` and minibatches a NumPy generator.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import torch

from genomes import Genome
from genomes.compile import GenomeModule
from growagent.rl.envs import EnvLike, make_vec_env
from growagent.rl.losses import categorical_ppo_grads, ppo_loss
from growagent.rl.normalize import RunningMeanStd
from growagent.rl.numpy_net import NumpyNet, unsupported_reason
from growagent.rl.optim import FlatAdam
from growagent.rl.policy import ActionHead, check_genome_matches
from growagent.task_config import PPOConfig as PPOConfig  # defined torch-free, re-exported
from growagent.task_config import zoo_config as zoo_config


class NonFiniteTrainingError(RuntimeError):
    """A NaN or infinity appeared in observations, rewards or losses."""


@dataclass
class TrainLog:
    """What happened during :func:`train_ppo`."""

    total_steps: int = 0
    """Environment steps taken (all sub-envs)."""
    wall_time: float = 0.0
    """Seconds spent in :func:`train_ppo`."""
    episode_returns: list[float] = field(default_factory=list)
    """Returns of completed training episodes, in completion order."""
    episode_lengths: list[int] = field(default_factory=list)
    """Lengths of completed training episodes."""
    updates: list[dict[str, float]] = field(default_factory=list)
    """Per update: step, policy_loss, value_loss, entropy, approx_kl, clipfrac, lr,
    minibatches (gradient steps taken; fewer than epochs x minibatches when
    ``target_kl`` stopped the update early) and mean_return (of the last 20
    training episodes).

    Losses, approximate KL and clip fraction are means over all minibatches;
    the entropy is the mean over the minibatches where it was computed: all
    of them with an entropy bonus, else the first epoch's."""

    @property
    def steps_per_second(self) -> float:
        """Environment steps per wall-clock second."""
        return self.total_steps / self.wall_time if self.wall_time > 0 else 0.0


# ----------------------------------------------------------------- the step


class Minibatch(NamedTuple):
    """The transitions of one gradient step, as NumPy arrays (``[batch, ...]``)."""

    obs: np.ndarray
    """Observations, normalised as the policy saw them."""
    act: np.ndarray
    """Actions: ``[batch, 1]`` indices (Discrete) or ``[batch, *shape]`` (Box)."""
    old_logp: np.ndarray
    """Log-probabilities of the actions at rollout time."""
    neg_adv: np.ndarray
    """Minus the (optionally normalised) advantages."""
    returns: np.ndarray
    """GAE returns: the value targets."""
    old_value: np.ndarray
    """Values at rollout time (for the clipped value loss)."""

    def rows(self, idx: slice) -> Minibatch:
        """The minibatch of rows ``idx`` (views, no copies)."""
        return Minibatch(
            self.obs[idx],
            self.act[idx],
            self.old_logp[idx],
            self.neg_adv[idx],
            self.returns[idx],
            self.old_value[idx],
        )


class TorchStep:
    """One PPO minibatch step through autograd: :func:`ppo_loss`, any action space,
    either value loss."""

    name = "torch"
    net: NumpyNet | None = None

    def __init__(self, module: GenomeModule, opt: FlatAdam, head: ActionHead, cfg: PPOConfig):
        self.module, self.opt, self.head, self.cfg = module, opt, head, cfg

    def __call__(
        self, mb: Minibatch, *, lr: float, clip: float, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Forward, loss, backward, clip and Adam step; ``(stats, log_ratio)`` as
        :func:`ppo_loss` returns them. ``with_entropy`` measures the entropy even
        when it is not in the loss."""
        cfg, log_std = self.cfg, self.module.log_std
        out, value = self.module(torch.from_numpy(mb.obs))
        assert value is not None
        act = torch.from_numpy(mb.act)
        self.opt.zero_grad()
        if with_entropy:
            new_logp, entropy = self.head.log_prob_entropy(
                out, log_std, act, entropy_grad=cfg.ent_coef != 0.0
            )
        else:
            new_logp, entropy = self.head.log_prob(out, log_std, act), None
        loss, stats, log_ratio = ppo_loss(
            new_logp,
            entropy,
            value,
            torch.from_numpy(mb.old_logp),
            torch.from_numpy(mb.neg_adv),
            torch.from_numpy(mb.returns),
            torch.from_numpy(mb.old_value),
            clip=clip,
            vf_coef=cfg.vf_coef,
            ent_coef=cfg.ent_coef,
            clip_vloss=cfg.clip_vloss,
        )
        loss.backward()  # type: ignore[no-untyped-call]
        self.opt.clip_and_step(lr, cfg.max_grad_norm)
        return stats, log_ratio


class ClosedFormTorchStep:
    """The same step for a Discrete policy with the plain value loss: the loss's
    gradient in closed form (:func:`categorical_ppo_grads`), carried through the
    network by autograd."""

    name = "closed-form torch"
    net: NumpyNet | None = None

    def __init__(self, module: GenomeModule, opt: FlatAdam, head: ActionHead, cfg: PPOConfig):
        self.module, self.opt, self.cfg = module, opt, cfg

    def __call__(
        self, mb: Minibatch, *, lr: float, clip: float, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        out, value = self.module(torch.from_numpy(mb.obs))
        assert value is not None
        (g_out, g_value), stats, log_ratio = categorical_ppo_grads(
            out.detach().numpy(),
            value.detach().numpy(),
            mb.act[:, 0],
            mb.old_logp,
            mb.neg_adv,
            mb.returns,
            clip=clip,
            vf_coef=cfg.vf_coef,
            ent_coef=cfg.ent_coef,
            with_entropy=with_entropy,
        )
        self.opt.zero_grad()
        torch.autograd.backward((out, value), (torch.from_numpy(g_out), torch.from_numpy(g_value)))
        self.opt.clip_and_step(lr, cfg.max_grad_norm)
        return torch.from_numpy(stats), torch.from_numpy(log_ratio)


class NumpyStep:
    """The closed-form step with the network's passes written by hand
    (:class:`NumpyNet`): no autograd at all. The rollout acts with ``net`` too."""

    name = "numpy"

    def __init__(self, module: GenomeModule, opt: FlatAdam, head: ActionHead, cfg: PPOConfig):
        self.net = NumpyNet(module)  # reads and writes the module's (flat) memory
        self.opt, self.cfg = opt, cfg

    def __call__(
        self, mb: Minibatch, *, lr: float, clip: float, with_entropy: bool
    ) -> tuple[torch.Tensor, torch.Tensor]:
        cfg, net = self.cfg, self.net
        logits, value = net.forward(mb.obs)
        grads, stats, log_ratio = categorical_ppo_grads(
            logits,
            value,
            mb.act[:, 0],
            mb.old_logp,
            mb.neg_adv,
            mb.returns,
            clip=clip,
            vf_coef=cfg.vf_coef,
            ent_coef=cfg.ent_coef,
            with_entropy=with_entropy,
        )
        net.backward(*grads)  # overwrites every gradient
        self.opt.clip_and_step(lr, cfg.max_grad_norm)
        return torch.from_numpy(stats), torch.from_numpy(log_ratio)


PPOStep = TorchStep | ClosedFormTorchStep | NumpyStep


def make_ppo_step(module: GenomeModule, opt: FlatAdam, head: ActionHead, cfg: PPOConfig) -> PPOStep:
    """The minibatch step for this genome and config, chosen once.

    The closed-form gradient needs a Discrete action space and the plain
    value loss; the NumPy passes also need activations whose derivative is a
    function of their output (see :func:`unsupported_reason`). The module's
    parameters must already be ``opt``'s flat views.

    Examples
    --------
    >>> import genomes
    >>> def step_for(genome, **config):
    ...     module = genome.compile(torch.float32)
    ...     opt = FlatAdam(list(module.parameters()), eps=1e-5, betas=(0.9, 0.999))
    ...     return make_ppo_step(module, opt, ActionHead(genome), PPOConfig(**config)).name
    >>> step_for(genomes.mlp(4, 2, hidden=[8]))
    'numpy'
    >>> step_for(genomes.mlp(4, 2, hidden=[8], activation="gelu"))
    'closed-form torch'
    >>> step_for(genomes.mlp(4, 2, hidden=[8]), clip_vloss=True)
    'torch'
    """
    if head.continuous or cfg.clip_vloss:
        return TorchStep(module, opt, head, cfg)
    if unsupported_reason(module) is not None:
        return ClosedFormTorchStep(module, opt, head, cfg)
    return NumpyStep(module, opt, head, cfg)


# ----------------------------------------------------------------- train


def _check_finite(arr: np.ndarray, what: str) -> None:
    if not np.isfinite(arr).all():
        raise NonFiniteTrainingError(f"Non-finite {what} from the environment")


def train_ppo(
    genome: Genome,
    env: EnvLike,
    *,
    total_steps: int,
    config: PPOConfig | None = None,
    seed: int = 0,
    callback: Callable[[dict[str, float]], bool | None] | None = None,
) -> tuple[Genome, TrainLog]:
    """Train ``genome`` with PPO for about ``total_steps`` environment steps.

    Parameters
    ----------
    genome : Genome
        The network to train; not modified.
    env : str or callable
        A gymnasium id or env factory.
    total_steps : int
        Budget in environment steps, rounded up to whole rollouts.
    config : PPOConfig, optional
        Hyperparameters (``PPOConfig()`` by default).
    seed : int
        Seeds the envs, action sampling and minibatch order.
    callback : callable, optional
        Called after each update with that update's log entry; returning
        ``False`` stops training.

    Returns
    -------
    (Genome, TrainLog)
        A copy with the trained weights and, if normalising, the running
        observation statistics in ``meta["obs_norm"]``.

    Raises
    ------
    NonFiniteTrainingError
        On NaN/inf observations, rewards or losses.

    Examples
    --------
    >>> import genomes
    >>> g = genomes.mlp(4, 2, hidden=[16])
    >>> trained, log = train_ppo(g, "CartPole-v1", total_steps=2048, seed=0)  # doctest: +SKIP
    >>> log.total_steps, trained.meta["obs_norm"] is not None  # doctest: +SKIP
    (2048, True)
    """
    cfg = config or PPOConfig()
    t0 = time.perf_counter()
    venv = make_vec_env(env, cfg.num_envs, seed)
    try:
        check_genome_matches(genome, venv.single_observation_space, venv.single_action_space)
        # An overflow or NaN surfaces as a non-finite loss, reported once as
        # NonFiniteTrainingError; NumPy's warnings on the way would only be noise.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            trained, log = _train(genome, venv, total_steps, cfg, seed, callback)
    finally:
        venv.close()
    log.wall_time = time.perf_counter() - t0
    return trained, log


def _train(
    genome: Genome,
    venv: Any,
    total_steps: int,
    cfg: PPOConfig,
    seed: int,
    callback: Callable[[dict[str, float]], bool | None] | None,
) -> tuple[Genome, TrainLog]:
    module = genome.compile(torch.float32)
    head = ActionHead(genome)
    opt = FlatAdam(
        [p for p in module.parameters() if p.requires_grad], eps=cfg.adam_eps, betas=(0.9, 0.999)
    )
    step = make_ppo_step(module, opt, head, cfg)
    rms: RunningMeanStd | None = None
    if genome.meta.get("obs_norm"):
        rms = RunningMeanStd.from_meta(genome.meta["obs_norm"], (module.obs_units,))
    elif cfg.normalize_obs:
        rms = RunningMeanStd((module.obs_units,), clip=cfg.obs_clip)
    rollout = _Rollout(genome, module, head, step.net, cfg, rms)
    gen = torch.Generator().manual_seed(seed)  # action sampling
    rng = np.random.default_rng(seed)  # minibatch order
    log = TrainLog()
    raw_obs = venv.growagent_first_obs
    ep_ret = np.zeros(cfg.num_envs)
    ep_len = np.zeros(cfg.num_envs, dtype=np.int64)
    num_updates = max(1, math.ceil(total_steps / (cfg.num_envs * cfg.num_steps)))

    for update in range(num_updates):
        frac = 1.0 - update / num_updates
        lr = cfg.learning_rate * frac if cfg.anneal_lr else cfg.learning_rate
        clip = cfg.clip_coef * frac if cfg.anneal_clip else cfg.clip_coef

        # Rollout: num_steps batched env steps, without autograd.
        raw_obs = rollout.collect(venv, raw_obs, gen)
        log.total_steps += cfg.num_envs * cfg.num_steps
        _episode_stats(rollout.rew, rollout.valid, rollout.done, ep_ret, ep_len, log)

        # GAE: advantages and returns (value targets).
        adv, ret = gae(
            rollout.rew,
            rollout.val,
            rollout.term,
            rollout.done,
            rollout.valid,
            gamma=cfg.gamma,
            lam=cfg.gae_lambda,
        )

        # Update: epochs of minibatch steps over the valid transitions.
        b_obs, b_act, b_logp, b_adv, b_ret, b_val = rollout.valid_transitions(adv, ret)
        n = b_obs.shape[0]
        mb_size = max(1, math.ceil(n / cfg.num_minibatches))
        starts = range(0, n, mb_size)
        # A single minibatch is the whole rollout: its loss is a mean over all
        # transitions, so shuffling it would change nothing but summation
        # order, and its normalised advantages are the same every epoch.
        whole = len(starts) == 1
        module.train()
        stats: list[torch.Tensor] = []
        log_ratios: list[torch.Tensor] = []
        stop = False
        for epoch in range(cfg.update_epochs):
            if epoch == 0 or not whole:
                # One gather per epoch; minibatches are then contiguous slices.
                order: slice | torch.Tensor = (
                    slice(None) if whole else torch.from_numpy(rng.permutation(n))
                )
                data = Minibatch(
                    b_obs[order].numpy(),
                    b_act[order].numpy(),
                    b_logp[order].numpy(),
                    _neg_adv_per_minibatch(b_adv[order], mb_size, cfg.norm_adv).numpy(),
                    b_ret[order].numpy(),
                    b_val[order].numpy(),
                )
            # The logged entropy is the first epoch's; without an entropy
            # bonus it is not needed after that.
            with_entropy = cfg.ent_coef != 0.0 or epoch == 0
            for start in starts:
                mb = data.rows(slice(start, start + mb_size))
                mb_stats, log_ratio = step(mb, lr=lr, clip=clip, with_entropy=with_entropy)
                stats.append(mb_stats)
                log_ratios.append(log_ratio)
                if cfg.target_kl is not None:
                    approx_kl = (log_ratio.exp() - 1 - log_ratio).mean()
                    if float(approx_kl) > 1.5 * cfg.target_kl:
                        stop = True
                        break
            if stop:
                break
        if update == 0:
            opt.check_grads_are_views()

        # Log: means over the update's minibatches.
        recent = log.episode_returns[-20:]
        entry = {
            "step": float(log.total_steps),
            **_update_entry(stats, log_ratios, starts, n, mb_size, clip, update),
            "lr": lr,
            "minibatches": float(len(stats)),
            "mean_return": float(np.mean(recent)) if recent else float("nan"),
        }
        log.updates.append(entry)
        if callback is not None and callback(entry) is False:
            break

    trained = genome.with_weights_from(module)
    trained.meta["obs_norm"] = rms.to_meta() if rms is not None else None
    return trained, log


# ----------------------------------------------------------------- rollout and GAE


class _Rollout:
    """A rollout's buffers (``num_steps`` vector steps of ``num_envs`` envs) and the loop
    that fills them.

    The buffers are NumPy arrays shared with tensor views; per-step rows are
    made once so the loop only copies into them. The observations have one
    row more: the observation after the rollout, for its bootstrap value.
    With ``net`` (a :class:`NumpyNet` of the module) the policy acts in
    NumPy, else through the module.
    """

    def __init__(
        self,
        genome: Genome,
        module: GenomeModule,
        head: ActionHead,
        net: NumpyNet | None,
        cfg: PPOConfig,
        rms: RunningMeanStd | None,
    ):
        n_steps, n_envs, obs_dim = cfg.num_steps, cfg.num_envs, module.obs_units
        self.module, self.head, self.net = module, head, net
        self.n_steps, self.n_envs, self.obs_dim = n_steps, n_envs, obs_dim
        self.rms = rms
        self.update_rms = rms is not None and cfg.normalize_obs
        self.act_shape = tuple(genome.action_space["shape"]) if head.continuous else ()
        self.n_out = (
            int(np.prod(self.act_shape)) if head.continuous else int(genome.action_space["n"])
        )
        self.obs_np = np.zeros((n_steps + 1, n_envs, obs_dim), dtype=np.float32)
        self.obs_all = torch.from_numpy(self.obs_np)
        self.obs_buf = self.obs_all[:n_steps]
        self.obs_rows = list(self.obs_buf)
        self.act_buf = torch.zeros(
            (n_steps, n_envs, *(self.act_shape or (1,))),
            dtype=torch.float32 if self.act_shape else torch.long,
        )
        self.act_rows = list(self.act_buf)
        self.act_np = self.act_buf.numpy()
        self.act_env_rows = list(self.act_np if self.act_shape else self.act_np[..., 0])
        self.logp_buf = torch.zeros((n_steps, n_envs, 1))
        self.logp_rows = list(self.logp_buf)
        self.logp_np = self.logp_buf.numpy()[..., 0]
        self.logits_np = np.zeros((n_steps, n_envs, self.n_out), dtype=np.float32)  # with net
        self.val = np.zeros((n_steps + 1, n_envs), dtype=np.float32)
        self.rew = np.zeros((n_steps, n_envs), dtype=np.float64)
        self.term = np.zeros((n_steps, n_envs), dtype=bool)
        self.trunc = np.zeros((n_steps, n_envs), dtype=bool)
        self.done = np.zeros((n_steps, n_envs), dtype=bool)
        self.valid = np.zeros((n_steps, n_envs), dtype=bool)
        self.prev_done = np.zeros(n_envs, dtype=bool)

    @torch.no_grad()
    def collect(self, venv: Any, raw_obs: np.ndarray, gen: torch.Generator) -> np.ndarray:
        """Act for ``num_steps`` steps from ``raw_obs``; return the observation after them.

        Noise is drawn for the whole rollout. Acting needs only the policy; the
        log-probabilities (with ``net``, or for a Box space) and the values of
        all the observations are computed afterwards in one batch.
        """
        n_steps, n_envs = self.n_steps, self.n_envs
        head, net, module = self.head, self.net, self.module
        obs_np, obs_rows, logits_np = self.obs_np, self.obs_rows, self.logits_np
        act_rows, act_env_rows, logp_rows = self.act_rows, self.act_env_rows, self.logp_rows
        module.eval()
        noise = head.rollout_noise(n_steps, n_envs, self.n_out, gen)
        noise_rows = list(noise.view(n_steps, n_envs, *(self.act_shape or (self.n_out,))))
        noise_np = noise.numpy()
        std = module.log_std.exp() if module.log_std is not None else None
        for t in range(n_steps):
            self._prep(raw_obs, obs_np[t], update=True)
            if net is not None:
                logits_np[t] = net.policy(obs_np[t])
                head.sample_categorical_numpy(logits_np[t], noise_np[t], act_env_rows[t])
            else:
                out = module.policy(obs_rows[t])
                head.sample_into(out, std, noise_rows[t], act_rows[t], logp_rows[t])
            raw_obs, reward, term, trunc, _ = venv.step(head.to_env_numpy(act_env_rows[t]))
            self.rew[t] = reward
            self.term[t] = term
            self.trunc[t] = trunc
        self._prep(raw_obs, obs_np[n_steps], update=False)
        if net is not None:
            self.logp_np[...] = head.categorical_log_prob_numpy(logits_np, self.act_np[..., 0])
        values = module.value(self.obs_all.view(-1, self.obs_dim))
        self.val[:] = values.view(n_steps + 1, n_envs).numpy()
        if head.continuous:
            assert module.log_std is not None
            self.logp_buf[..., 0] = head.noise_log_prob(noise.view_as(self.act_buf), module.log_std)
        _check_finite(self.rew, "reward")
        # A step is valid unless it follows an episode end (next-step autoreset).
        np.logical_or(self.term, self.trunc, out=self.done)
        self.valid[0] = ~self.prev_done
        self.valid[1:] = ~self.done[:-1]
        self.prev_done = self.done[-1].copy()
        return raw_obs

    def _prep(self, raw: np.ndarray, out: np.ndarray, update: bool) -> None:
        """Check and (optionally) normalise a batch of raw observations into ``out``."""
        _check_finite(raw, "observation")
        flat = raw.reshape(self.n_envs, self.obs_dim)
        if self.rms is None:
            out[...] = flat
            return
        if update and self.update_rms:
            self.rms.update(flat)
        out[...] = self.rms.normalize(flat)

    def valid_transitions(
        self, adv: np.ndarray, ret: np.ndarray
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Observations, actions, log-probabilities, advantages, returns and values of
        the valid steps, flattened; actions ``[n, 1]`` for a Discrete space (a gather index)."""
        mask = torch.from_numpy(self.valid.reshape(-1))
        return (
            self.obs_buf.reshape(-1, self.obs_dim)[mask],
            self.act_buf.reshape(-1, *(self.act_shape or (1,)))[mask],
            self.logp_buf.reshape(-1)[mask],
            torch.from_numpy(adv.reshape(-1))[mask],
            torch.from_numpy(ret.reshape(-1))[mask],
            torch.from_numpy(self.val[: self.n_steps].reshape(-1))[mask],
        )


def gae(
    rew: np.ndarray,
    val: np.ndarray,
    term: np.ndarray,
    done: np.ndarray,
    valid: np.ndarray,
    *,
    gamma: float,
    lam: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Generalised advantage estimates and returns of a rollout (float32, ``[steps, envs]``).

    ``val`` has one row more than the others: the values of the observations
    after each step. A truncated step bootstraps from its final
    observation's value, which the following (masked) step computed; a
    terminated one does not. Masked steps (``valid`` False) get 0.

    Examples
    --------
    >>> import numpy as np
    >>> rew, val = np.ones((3, 1)), np.zeros((4, 1), dtype=np.float32)
    >>> no = np.zeros((3, 1), dtype=bool)
    >>> adv, ret = gae(rew, val, no, no, ~no, gamma=0.5, lam=1.0)
    >>> adv[:, 0].tolist()  # 1 + 0.5 + 0.25, 1 + 0.5, 1
    [1.75, 1.5, 1.0]
    """
    n_steps, n_envs = rew.shape
    delta = rew.astype(np.float32) + gamma * val[1:] * ~term - val[:-1]
    decay = (gamma * lam * ~done).astype(np.float32)
    mask = valid.astype(np.float32)
    adv = np.zeros((n_steps, n_envs), dtype=np.float32)
    last = np.zeros(n_envs, dtype=np.float32)
    for t in reversed(range(n_steps)):
        last = (delta[t] + decay[t] * last) * mask[t]
        adv[t] = last
    return adv, adv + val[:n_steps]


def _neg_adv(adv: torch.Tensor, norm: bool) -> torch.Tensor:
    """Minus the (optionally normalised) advantages."""
    if norm and adv.shape[0] > 1:
        return (adv.mean() - adv) / (adv.std() + 1e-8)
    return -adv


def _neg_adv_per_minibatch(adv: torch.Tensor, mb_size: int, norm: bool) -> torch.Tensor:
    """:func:`_neg_adv` applied to each ``mb_size`` slice of ``adv`` (the last may be shorter).

    The full-size slices are normalised together as the rows of one matrix.

    Examples
    --------
    >>> adv = torch.tensor([1.0, 3.0, 10.0, 20.0, 5.0])
    >>> _neg_adv_per_minibatch(adv, 2, norm=True).tolist()
    [0.7071067690849304, -0.7071067690849304, 0.7071067690849304, -0.7071067690849304, -5.0]
    """
    if adv.shape[0] <= mb_size:  # one minibatch
        return _neg_adv(adv, norm)
    if not norm or mb_size == 1:
        return -adv
    full = adv.shape[0] - adv.shape[0] % mb_size
    parts = []
    if full:
        rows = adv[:full].view(-1, mb_size)
        parts.append(
            ((rows.mean(1, keepdim=True) - rows) / (rows.std(1, keepdim=True) + 1e-8)).view(-1)
        )
    if full < adv.shape[0]:
        parts.append(_neg_adv(adv[full:], norm))
    return torch.cat(parts) if len(parts) > 1 else parts[0]


def _update_entry(
    stats: list[torch.Tensor],
    log_ratios: list[torch.Tensor],
    starts: range,
    n: int,
    mb_size: int,
    clip: float,
    update: int,
) -> dict[str, float]:
    """Per-update means of the minibatch losses, approximate KL and clip fraction.

    Raises :class:`NonFiniteTrainingError` if any minibatch loss was not finite
    (checked once per update rather than once per minibatch).
    """
    names = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac")
    if not stats:
        return dict.fromkeys(names, float("nan"))
    losses = torch.stack(stats)  # [minibatch, (policy, value, entropy)]
    if not bool(torch.isfinite(losses[:, :2]).all()):
        bad = int((~torch.isfinite(losses[:, :2]).all(1)).nonzero()[0, 0])
        pg, vl = losses[bad, 0].item(), losses[bad, 1].item()
        raise NonFiniteTrainingError(
            f"Non-finite loss at update {update} (policy {pg}, value {vl})"
        )
    # Mean over minibatches of each minibatch's mean: weight each element by
    # 1 / (its minibatch size * number of minibatches).
    sizes = [min(mb_size, n - s) for s in starts] * (len(log_ratios) // len(starts) + 1)
    sizes = sizes[: len(log_ratios)]
    lr_all = torch.cat(log_ratios)
    w = torch.repeat_interleave(
        torch.tensor([1.0 / (s * len(sizes)) for s in sizes]), torch.tensor(sizes)
    )
    ratio = lr_all.exp()
    approx_kl = (((ratio - 1) - lr_all) * w).sum()
    clipfrac = ((((ratio - 1.0).abs() > clip).float()) * w).sum()
    pg, vl = losses[:, :2].mean(0).tolist()
    ent = float(losses[:, 2].nanmean())  # NaN where it was not measured
    return dict(zip(names, [pg, vl, ent, float(approx_kl), float(clipfrac)], strict=True))


def _episode_stats(
    rew: np.ndarray,
    valid: np.ndarray,
    done: np.ndarray,
    ep_ret: np.ndarray,
    ep_len: np.ndarray,
    log: TrainLog,
) -> None:
    """Log the episodes that ended in this rollout, in completion order.

    ``ep_ret`` / ``ep_len`` carry each env's unfinished episode across
    rollouts and are updated in place.
    """
    csum_r = np.cumsum(rew, axis=0)
    csum_l = np.cumsum(valid, axis=0, dtype=np.int64)
    base_r = np.zeros_like(ep_ret)
    base_l = np.zeros_like(ep_len)
    for t, i in zip(*np.nonzero(done), strict=True):
        log.episode_returns.append(float(ep_ret[i] + csum_r[t, i] - base_r[i]))
        log.episode_lengths.append(int(ep_len[i] + csum_l[t, i] - base_l[i]))
        ep_ret[i] = 0.0
        ep_len[i] = 0
        base_r[i] = csum_r[t, i]
        base_l[i] = csum_l[t, i]
    ep_ret += csum_r[-1] - base_r
    ep_len += csum_l[-1] - base_l
