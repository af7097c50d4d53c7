"""A lean PPO over a compiled genome, in the spirit of CleanRL's ``ppo.py``.

One rollout of ``num_steps`` vector steps, GAE, then ``update_epochs`` passes
of minibatch SGD on the clipped surrogate, the value loss and an entropy
bonus, with gradient clipping and optional learning-rate / clip annealing.

Time limits: a truncated episode is bootstrapped with the value of its final
observation; a terminated one is not. With next-step autoreset (see
:mod:`growagent.rl.envs`) the step after an episode end carries the final
observation and an ignored action; it is used only for that bootstrap value
and is masked out of the loss.

Deterministic for a given seed on one thread (``torch.set_num_threads(1)``):
sampling uses its own ``torch.Generator`` and minibatches a NumPy generator.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from genomes import Genome
from growagent.rl.envs import EnvLike, make_vec_env
from growagent.rl.losses import categorical_ppo_grads, ppo_loss
from growagent.rl.normalize import RunningMeanStd
from growagent.rl.numpy_net import NumpyNet, unsupported_reason
from growagent.rl.optim import FlatAdam
from growagent.rl.policy import ActionHead, check_genome_matches


class NonFiniteTrainingError(RuntimeError):
    """A NaN or infinity appeared in observations, rewards or losses."""


@dataclass
class PPOConfig:
    """PPO hyperparameters (names follow CleanRL; defaults are SB3 / rl-zoo-like).

    See :func:`zoo_config` for tuned per-environment presets.
    """

    num_envs: int = 8
    """Parallel environment copies."""
    num_steps: int = 128
    """Vector steps per rollout (a rollout holds ``num_envs * num_steps`` transitions)."""
    learning_rate: float = 3e-4
    """Adam learning rate (initial value when annealed)."""
    anneal_lr: bool = False
    """Decay the learning rate linearly to 0 over training (rl-zoo ``lin_``)."""
    anneal_clip: bool = False
    """Decay the clip coefficient linearly to 0 over training (rl-zoo ``lin_``)."""
    gamma: float = 0.99
    """Discount factor."""
    gae_lambda: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch (minibatch size = rollout size / this)."""
    update_epochs: int = 10
    """Passes over each rollout."""
    clip_coef: float = 0.2
    """Surrogate clip range."""
    clip_vloss: bool = False
    """Clip the value loss like CleanRL (SB3's default is no clipping)."""
    ent_coef: float = 0.0
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient (value loss is the plain MSE, as in SB3)."""
    max_grad_norm: float = 0.5
    """Global gradient-norm clip."""
    norm_adv: bool = True
    """Normalise advantages per minibatch."""
    target_kl: float | None = None
    """Stop an update's epochs early when the approximate KL exceeds this."""
    normalize_obs: bool = True
    """Maintain running observation statistics (stored in ``genome.meta["obs_norm"]``).
    If False, existing statistics in the genome are used frozen, else none."""
    obs_clip: float = 10.0
    """Clip range of normalised observations."""
    adam_eps: float = 1e-5
    """Adam epsilon (SB3 uses 1e-5 for PPO)."""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PPOConfig:
        """Build from a dict; unknown keys raise ``ValueError`` listing the valid ones."""
        return _from_dict(cls, data)


def _from_dict(cls: Any, data: dict[str, Any]) -> Any:
    valid = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ValueError(f"{cls.__name__}: unknown keys {unknown} (valid: {valid})")
    return cls(**data)


_ZOO: dict[str, dict[str, Any]] = {
    # rl-baselines3-zoo hyperparams/ppo.yml (normalize: false unless stated).
    "CartPole-v1": dict(
        num_envs=8,
        num_steps=32,
        num_minibatches=1,
        gae_lambda=0.8,
        gamma=0.98,
        update_epochs=20,
        ent_coef=0.0,
        learning_rate=1e-3,
        anneal_lr=True,
        anneal_clip=True,
        normalize_obs=False,
    ),
    "LunarLander-v3": dict(
        num_envs=16,
        num_steps=1024,
        num_minibatches=256,
        gae_lambda=0.98,
        gamma=0.999,
        update_epochs=4,
        ent_coef=0.01,
        normalize_obs=False,
    ),
    "Acrobot-v1": dict(
        num_envs=16,
        num_steps=256,
        num_minibatches=16,
        gae_lambda=0.94,
        gamma=0.99,
        update_epochs=4,
        ent_coef=0.0,
        normalize_obs=True,
    ),
    "Pendulum-v1": dict(
        num_envs=4,
        num_steps=1024,
        num_minibatches=64,
        gae_lambda=0.95,
        gamma=0.9,
        update_epochs=10,
        ent_coef=0.0,
        learning_rate=1e-3,
        normalize_obs=False,
    ),
}


def zoo_config(env_id: str, **overrides: Any) -> PPOConfig:
    """The rl-baselines3-zoo PPO hyperparameters for ``env_id`` (defaults otherwise).

    Pendulum's zoo entry uses gSDE, which this PPO does not implement; the
    rest of its settings are kept.

    Examples
    --------
    >>> zoo_config("CartPole-v1").num_steps
    32
    >>> zoo_config("Unknown-v0", num_envs=2).num_envs
    2
    """
    return PPOConfig(**{**_ZOO.get(env_id, {}), **overrides})


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
    >>> trained, log = train_ppo(g, "CartPole-v1", total_steps=2048, seed=0)
    >>> log.total_steps, trained.meta["obs_norm"] is not None
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
    params = [p for p in module.parameters() if p.requires_grad]
    opt = FlatAdam(params, eps=cfg.adam_eps, betas=(0.9, 0.999))
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    n_envs, n_steps, obs_dim = cfg.num_envs, cfg.num_steps, module.obs_units
    rms: RunningMeanStd | None = None
    if genome.meta.get("obs_norm"):
        rms = RunningMeanStd.from_meta(genome.meta["obs_norm"], (obs_dim,))
    elif cfg.normalize_obs:
        rms = RunningMeanStd((obs_dim,), clip=cfg.obs_clip)

    act_shape = tuple(genome.action_space["shape"]) if head.continuous else ()
    n_out = int(np.prod(act_shape)) if head.continuous else int(genome.action_space["n"])
    # Rollout buffers are NumPy arrays shared with tensor views; per-step rows
    # are made once so the loop only copies into them. The observations have
    # one row more: the observation after the rollout, for its bootstrap value.
    obs_np = np.zeros((n_steps + 1, n_envs, obs_dim), dtype=np.float32)
    obs_all = torch.from_numpy(obs_np)
    obs_buf = obs_all[:n_steps]
    obs_rows = list(obs_buf)
    act_buf = torch.zeros(
        (n_steps, n_envs, *(act_shape or (1,))), dtype=torch.float32 if act_shape else torch.long
    )
    act_rows = list(act_buf)
    act_np = act_buf.numpy()
    act_env_rows = list(act_np if act_shape else act_np[..., 0])
    logp_buf = torch.zeros((n_steps, n_envs, 1))
    logp_rows = list(logp_buf)
    logp_np = logp_buf.numpy()[..., 0]
    logits_np = np.zeros((n_steps, n_envs, n_out), dtype=np.float32)  # NumPy rollout only
    val_buf = np.zeros((n_steps + 1, n_envs), dtype=np.float32)
    rew_buf = np.zeros((n_steps, n_envs), dtype=np.float64)
    term_buf = np.zeros((n_steps, n_envs), dtype=bool)
    trunc_buf = np.zeros((n_steps, n_envs), dtype=bool)
    valid_buf = np.zeros((n_steps, n_envs), dtype=bool)

    log = TrainLog()
    raw_obs = venv.growagent_first_obs
    prev_done = np.zeros(n_envs, dtype=bool)
    ep_ret = np.zeros(n_envs)
    ep_len = np.zeros(n_envs, dtype=np.int64)
    num_updates = max(1, math.ceil(total_steps / (n_envs * n_steps)))
    entropy_grad = cfg.ent_coef != 0.0
    # The loss's gradient in closed form where it applies (see losses.py),
    # carried through the network by hand where the genome allows
    # (numpy_net.py), else by autograd.
    closed_form = not head.continuous and not cfg.clip_vloss
    net = NumpyNet(module) if closed_form and unsupported_reason(module) is None else None
    update_rms = rms is not None and cfg.normalize_obs

    def prep(raw: np.ndarray, out: np.ndarray, update: bool) -> None:
        _check_finite(raw, "observation")
        flat = raw.reshape(n_envs, obs_dim)
        if rms is None:
            out[...] = flat
            return
        if update and update_rms:
            rms.update(flat)
        out[...] = rms.normalize(flat)

    for update in range(num_updates):
        frac = 1.0 - update / num_updates
        lr = cfg.learning_rate * frac if cfg.anneal_lr else cfg.learning_rate
        clip = cfg.clip_coef * frac if cfg.anneal_clip else cfg.clip_coef

        # Rollout: batched env steps, no autograd; noise drawn for the whole
        # rollout. Acting needs only the policy; the values of all its
        # observations are computed afterwards in one batch.
        module.eval()
        with torch.no_grad():
            noise = head.rollout_noise(n_steps, n_envs, n_out, gen)
            noise_rows = list(noise.view(n_steps, n_envs, *(act_shape or (n_out,))))
            noise_np = noise.numpy()
            std = module.log_std.exp() if module.log_std is not None else None
            for t in range(n_steps):
                prep(raw_obs, obs_np[t], update=True)
                if net is not None:
                    logits_np[t] = net.policy(obs_np[t])
                    head.sample_categorical_numpy(logits_np[t], noise_np[t], act_env_rows[t])
                else:
                    out = module.policy(obs_rows[t])
                    head.sample_into(out, std, noise_rows[t], act_rows[t], logp_rows[t])
                raw_obs, reward, term, trunc, _ = venv.step(head.to_env_numpy(act_env_rows[t]))
                rew_buf[t] = reward
                term_buf[t] = term
                trunc_buf[t] = trunc
            prep(raw_obs, obs_np[n_steps], update=False)
            if net is not None:
                logp_np[...] = head.categorical_log_prob_numpy(logits_np, act_np[..., 0])
            val_buf[:] = module.value(obs_all.view(-1, obs_dim)).view(n_steps + 1, n_envs).numpy()
            if head.continuous:
                assert module.log_std is not None
                logp_buf[..., 0] = head.noise_log_prob(noise.view_as(act_buf), module.log_std)
        log.total_steps += n_envs * n_steps
        _check_finite(rew_buf, "reward")
        done_buf = np.logical_or(term_buf, trunc_buf)
        valid_buf[0] = ~prev_done
        valid_buf[1:] = ~done_buf[:-1]
        prev_done = done_buf[-1].copy()
        _episode_stats(rew_buf, valid_buf, done_buf, ep_ret, ep_len, log)

        # GAE; a truncated step bootstraps from its final observation's value,
        # which the following (masked) step computed. Masked steps get 0.
        delta = rew_buf.astype(np.float32) + cfg.gamma * val_buf[1:] * ~term_buf - val_buf[:-1]
        decay = (cfg.gamma * cfg.gae_lambda * ~done_buf).astype(np.float32)
        valid = valid_buf.astype(np.float32)
        adv = np.zeros((n_steps, n_envs), dtype=np.float32)
        last = np.zeros(n_envs, dtype=np.float32)
        for t in reversed(range(n_steps)):
            last = (delta[t] + decay[t] * last) * valid[t]
            adv[t] = last
        ret = adv + val_buf[:n_steps]

        # Update: minibatch epochs over the valid transitions.
        mask = torch.from_numpy(valid_buf.reshape(-1))
        b_obs = obs_buf.reshape(-1, obs_dim)[mask]
        b_act = act_buf.reshape(-1, *(act_shape or (1,)))[mask]  # [n, 1]: a gather index
        b_logp = logp_buf.reshape(-1)[mask]
        b_adv = torch.from_numpy(adv.reshape(-1))[mask]
        b_ret = torch.from_numpy(ret.reshape(-1))[mask]
        b_val = torch.from_numpy(val_buf[:n_steps].reshape(-1))[mask]
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
        # Advantages enter the loss negated (``-adv * ratio``); negate them once.
        e_nadv = _neg_adv(b_adv, cfg.norm_adv) if whole else b_adv
        e_obs, e_act, e_logp, e_ret, e_val = b_obs, b_act, b_logp, b_ret, b_val
        for epoch in range(cfg.update_epochs):
            if not whole:
                # One gather per epoch; minibatches are then contiguous slices.
                perm = torch.from_numpy(rng.permutation(n))
                e_obs, e_act, e_logp = b_obs[perm], b_act[perm], b_logp[perm]
                e_ret, e_val = b_ret[perm], b_val[perm]
                e_nadv = _neg_adv_per_minibatch(b_adv[perm], mb_size, cfg.norm_adv)
            # The logged entropy is the first epoch's. Without an entropy
            # bonus it is not needed after that.
            with_entropy = entropy_grad or epoch == 0
            if closed_form:  # NumPy views of this epoch's minibatch data
                n_obs, n_act, n_logp = e_obs.numpy(), e_act.numpy()[:, 0], e_logp.numpy()
                n_nadv, n_ret = e_nadv.numpy(), e_ret.numpy()
            for start in starts:
                idx = slice(start, start + mb_size)
                if closed_form:
                    if net is not None:
                        out_np, value_np = net.forward(n_obs[idx])
                    else:
                        out, value = module(e_obs[idx])
                        out_np, value_np = out.detach().numpy(), value.detach().numpy()
                    grads, np_stats, np_log_ratio = categorical_ppo_grads(
                        out_np,
                        value_np,
                        n_act[idx],
                        n_logp[idx],
                        n_nadv[idx],
                        n_ret[idx],
                        clip=clip,
                        vf_coef=cfg.vf_coef,
                        ent_coef=cfg.ent_coef,
                        with_entropy=with_entropy,
                    )
                    if net is not None:
                        net.backward(*grads)  # overwrites every gradient
                    else:
                        opt.zero_grad()
                        torch.autograd.backward(
                            (out, value), (torch.from_numpy(grads[0]), torch.from_numpy(grads[1]))
                        )
                    mb_stats, log_ratio = torch.from_numpy(np_stats), torch.from_numpy(np_log_ratio)
                else:
                    out, value = module(e_obs[idx])
                    opt.zero_grad()
                    if with_entropy:
                        new_logp, entropy = head.log_prob_entropy(
                            out, module.log_std, e_act[idx], entropy_grad=entropy_grad
                        )
                    else:
                        new_logp, entropy = head.log_prob(out, module.log_std, e_act[idx]), None
                    loss, mb_stats, log_ratio = ppo_loss(
                        new_logp,
                        entropy,
                        value,
                        e_logp[idx],
                        e_nadv[idx],
                        e_ret[idx],
                        e_val[idx],
                        clip=clip,
                        vf_coef=cfg.vf_coef,
                        ent_coef=cfg.ent_coef,
                        clip_vloss=cfg.clip_vloss,
                    )
                    loss.backward()
                opt.clip_and_step(lr, cfg.max_grad_norm)
                stats.append(mb_stats)
                log_ratios.append(log_ratio)
                if cfg.target_kl is not None:
                    approx_kl = (log_ratio.exp() - 1 - log_ratio).mean()
                    if float(approx_kl) > 1.5 * cfg.target_kl:
                        stop = True
                        break
            if update == 0 and epoch == 0:
                opt.check_grads_are_views()
            if stop:
                break

        entry = _update_entry(stats, log_ratios, starts, n, mb_size, clip, update)
        recent = log.episode_returns[-20:]
        entry = {
            "step": float(log.total_steps),
            **entry,
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
