"""Transit light-curve models in JAX: exposure-integrated trapezoid and limb-darkened transit.

Every function is elementwise and broadcasts, so one call evaluates a batch of candidates
(parameters of shape ``(B, 1)`` against times ``(B, N)``), and every function is
differentiable (``jax.grad``/``jax.jacfwd``) in its parameters.  Times are in days.

Trapezoid (Seager & Mallen-Ornelas 2003, ApJ 585, 1038, sections 2-3)
----------------------------------------------------------------
A symmetric trapezoid of total duration ``T`` (first to fourth contact) and flat duration
``F`` (second to third contact), unit depth, centred on 0:
``s(x) = 1`` for ``|x| <= F/2``, ``(T/2 - |x|)/((T - F)/2)`` for ``F/2 < |x| < T/2``, 0 outside.
With ``a = T/2``, ``b = F/2`` and the ramp ``R(u) = max(u, 0)`` it is the sum of four ramps

    s(x) = [R(x + a) - R(x + b) - R(x - b) + R(x - a)] / (a - b),

so its average over an exposure of length ``e`` (a box-car convolution, as in Kipping 2010,
MNRAS 408, 1758, "binning is sinful") is the same sum with ``R`` replaced by the exposure-
averaged ramp ``G_e(u) = (1/e) int_{u-e/2}^{u+e/2} R`` = 0, ``(u + e/2)^2/(2e)``, ``u`` on
``u <= -e/2``, ``|u| < e/2``, ``u >= e/2``.  This is exact (no supersampling) for any
``e >= 0`` and is C^1 in all parameters when ``e > 0``.  The box (``F = T``) is the limit
``G'_e(x + a) - G'_e(x - a)``.  :func:`trapezoid_shape_grad` gives the analytic partial
derivatives used by the least-squares fits in :mod:`jaxvet.core.fit`.

:func:`reference_trapezoid_shape` reproduces, bit for bit, the unit-depth shape of the
reference library's grid search (tess-vetter 0.3.20 ``_trapezoid_model``; docs/checks.md,
V05), including its boundary quirk: a point exactly at ``|phase| = F/2`` with
``F > 0`` gets shape 0.

Limb-darkened transit (Mandel & Agol 2002, ApJ 580, L171)
-----------------------------------------------------------
:func:`ld_transit_flux` evaluates the occulted flux of Mandel & Agol (2002, eq. 8 and section 2) for
the quadratic limb-darkening law (Claret 2000, A&A 363, 1081) by quadrature over the occulted
stellar annuli (the arc of each annulus inside the planet's disk), divided by the
disk-integrated intensity ``pi (1 - u1/3 - u2/6)``; :func:`uniform_overlap` is their exact
uniform-source ``lambda^e`` (eq. 1).  The planet's sky-projected distance is
``z(t) = sqrt(b^2 + (v t)^2)`` on a straight chord with ``v = 2 sqrt((1 + p)^2 - b^2)/T14``
(Seager & Mallen-Ornelas 2003, eq. 3 for circular orbits with ``a >> R*``).  The exposure is
integrated by ``supersample`` sub-exposures (Kipping 2010).  It is meant for injections and
synthetic tests (high impact parameters, grazing geometries); the fits use the trapezoid.
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxvet.core.numerics import exact_div

__all__ = [
    "exact_div",
    "smoothed_ramp",
    "smoothed_step",
    "trapezoid_shape",
    "trapezoid_shape_grad",
    "trapezoid_profile",
    "trapezoid_flux",
    "trapezoid_lightcurve",
    "reference_trapezoid_shape",
    "uniform_overlap",
    "ld_transit_flux",
    "tflat_ttotal_from_geometry",
]


#: ramps narrower than this fraction of the half-duration use the box limit (keeps the ramp
#: formula's cancellation error and its derivatives bounded)
_MIN_RAMP_REL = 1e-7


def _safe_exposure(exposure):
    e = jnp.asarray(exposure, dtype=jnp.float64)
    return jnp.where(e > 0, e, 1.0), e > 0


def smoothed_ramp(u, exposure=0.0):
    """Exposure-averaged ramp ``G_e(u)``: ``max(u, 0)`` averaged over ``[u - e/2, u + e/2]``."""
    u = jnp.asarray(u, dtype=jnp.float64)
    e, pos = _safe_exposure(exposure)
    h = 0.5 * e
    smooth = jnp.where(u >= h, u, jnp.where(u <= -h, 0.0, (u + h) ** 2 / (2.0 * e)))
    return jnp.where(pos, smooth, jnp.maximum(u, 0.0))


def smoothed_step(u, exposure=0.0):
    """``dG_e/du``: the exposure-averaged unit step (``u > 0`` when ``e = 0``)."""
    u = jnp.asarray(u, dtype=jnp.float64)
    e, pos = _safe_exposure(exposure)
    smooth = jnp.clip((u + 0.5 * e) / e, 0.0, 1.0)
    return jnp.where(pos, smooth, (u > 0).astype(jnp.float64))


def _smoothed_delta(u, exposure):
    """``d^2 G_e/du^2`` (1/e inside the exposure, 0 outside; 0 when e = 0)."""
    e, pos = _safe_exposure(exposure)
    return jnp.where(pos & (jnp.abs(u) < 0.5 * e), 1.0 / e, 0.0)


def _geometry(dt, t_total, t_flat):
    """Offsets ``x``, durations ``T``/``F`` (F clipped into [0, T]), half-widths ``a = T/2``,
    ``b = F/2``, ramp length ``d = a - b``, whether the ramp is resolved, and a safe divisor."""
    x = jnp.asarray(dt, dtype=jnp.float64)
    T = jnp.maximum(jnp.asarray(t_total, dtype=jnp.float64), 0.0)
    F = jnp.clip(jnp.asarray(t_flat, dtype=jnp.float64), 0.0, T)
    a = 0.5 * T
    b = 0.5 * F
    d = a - b
    ramp = d > _MIN_RAMP_REL * a + 1e-15
    return x, T, F, a, b, d, ramp, jnp.where(ramp, d, 1.0)


def trapezoid_shape_grad(dt, t_total, t_flat, exposure=0.0):
    """Unit-depth exposure-averaged trapezoid and its partial derivatives.

    Returns ``(s, ds/dT, ds/dF, ds/d(dt))`` at offsets ``dt`` (days) from mid-transit for total
    duration ``T`` and flat duration ``F`` (``0 <= F <= T``; F is clipped into that range).
    The derivative with respect to the mid-time is ``-ds/d(dt)``.
    """
    x, T, F, a, b, d, ramp, dsafe = _geometry(dt, t_total, t_flat)
    g1, g2, g3, g4 = (
        smoothed_ramp(x + a, exposure),
        smoothed_ramp(x + b, exposure),
        smoothed_ramp(x - b, exposure),
        smoothed_ramp(x - a, exposure),
    )
    p1, p2, p3, p4 = (
        smoothed_step(x + a, exposure),
        smoothed_step(x + b, exposure),
        smoothed_step(x - b, exposure),
        smoothed_step(x - a, exposure),
    )
    num = g1 - g2 - g3 + g4
    s_ramp = num / dsafe
    ds_da = (p1 - p4) / dsafe - num / dsafe**2
    ds_db = (p3 - p2) / dsafe + num / dsafe**2
    dsx_ramp = (p1 - p2 - p3 + p4) / dsafe
    # box limit (a == b): s = G'(x + a) - G'(x - a)
    s_box = p1 - p4
    q1, q4 = _smoothed_delta(x + a, exposure), _smoothed_delta(x - a, exposure)
    dsx_box = q1 - q4
    s = jnp.where(ramp, s_ramp, s_box)
    outside = jnp.abs(x) >= a + 0.5 * jnp.asarray(exposure, dtype=jnp.float64)
    # d/da of the box: (q1 + q4); split evenly between a and b for a one-sided derivative
    ds_da = jnp.where(ramp, ds_da, 0.5 * (q1 + q4))
    ds_db = jnp.where(ramp, ds_db, 0.5 * (q1 + q4))
    dsx = jnp.where(ramp, dsx_ramp, dsx_box)
    # chain rule: a = T/2, b = F/2; exact zeros outside the (exposure-widened) transit
    z = lambda v: jnp.where(outside, 0.0, v)  # noqa: E731
    return z(s), z(0.5 * ds_da), z(0.5 * ds_db), z(dsx)


def trapezoid_shape(dt, t_total, t_flat, exposure=0.0):
    """Unit-depth symmetric trapezoid at offsets ``dt`` (days), averaged over ``exposure`` days.

    ``t_total`` = T (first to fourth contact), ``t_flat`` = F (second to third contact).
    ``F = 0`` is a pure V, ``F = T`` a box.  Values lie in [0, 1].
    """
    x, T, F, a, b, d, ramp, dsafe = _geometry(dt, t_total, t_flat)
    num = (
        smoothed_ramp(x + a, exposure)
        - smoothed_ramp(x + b, exposure)
        - smoothed_ramp(x - b, exposure)
        + smoothed_ramp(x - a, exposure)
    )
    box = smoothed_step(x + a, exposure) - smoothed_step(x - a, exposure)
    outside = jnp.abs(x) >= a + 0.5 * jnp.asarray(exposure, dtype=jnp.float64)
    return jnp.where(outside, 0.0, jnp.clip(jnp.where(ramp, num / dsafe, box), 0.0, 1.0))


def trapezoid_profile(dt, duration, tflat_ratio, exposure=0.0):
    """Unit-depth symmetric trapezoid of total duration ``duration`` (days) and flat-to-total
    ratio ``tflat_ratio`` (clipped to [0, 1]; 1 is a box, 0 a pure V) at offsets ``dt`` (days),
    averaged over ``exposure`` days: :func:`trapezoid_shape` with ``F = tflat_ratio * T``."""
    ratio = jnp.clip(jnp.asarray(tflat_ratio, dtype=jnp.float64), 0.0, 1.0)
    return trapezoid_shape(dt, duration, ratio * duration, exposure)


def trapezoid_flux(dt, depth, t_total, t_flat, t_mid=0.0, exposure=0.0):
    """Normalised flux ``1 - depth * s(dt - t_mid)`` of one transit (see :func:`trapezoid_shape`)."""
    return 1.0 - depth * trapezoid_shape(jnp.asarray(dt) - t_mid, t_total, t_flat, exposure)


def trapezoid_lightcurve(time, period, t0, depth, t_total, t_flat, exposure=0.0):
    """Periodic trapezoid transit train at absolute times (BTJD days).

    Batched use: ``time`` (B, N) with parameters (B, 1), or any broadcastable shapes.  Each
    time is referred to its nearest transit, ``dt = t - t0 - round((t - t0)/P) P``; the
    exposure average is exact as long as ``T + exposure < P``.
    """
    time = jnp.asarray(time, dtype=jnp.float64)
    n = jnp.round((time - t0) / period)
    dt = time - t0 - n * period
    return trapezoid_flux(dt, depth, t_total, t_flat, 0.0, exposure)


def reference_trapezoid_shape(phase, t_flat_phase, t_total_phase):
    """The reference grid search's unit-depth shape, ``1 - _trapezoid_model(phase, F, T, 1)``.

    Reproduces the reference's floating-point expressions exactly (phase units): for
    ``F/2 <= 0`` a pure V, ``1 - (1 - (1 - |phase|/(T/2)))`` inside ``|phase| < T/2``; else 1 on
    ``|phase| < F/2``, ``1 - (0 + frac)`` on the ramps (strict inequalities on both ends, so
    ``|phase| = F/2`` gives 0), 0 elsewhere.
    """
    phase = jnp.asarray(phase, dtype=jnp.float64)
    half_flat = t_flat_phase / 2
    half_total = t_total_phase / 2
    absphase = jnp.abs(phase)
    # pure V branch
    v_in = absphase < half_total
    v_flux = 1.0 - 1.0 * (1.0 - exact_div(absphase, jnp.where(half_total != 0, half_total, 1.0)))
    v_shape = 1.0 - jnp.where(v_in, v_flux, 1.0)
    # trapezoid branch
    flat = absphase < half_flat
    sw = half_total - half_flat
    has_ramp = half_total > half_flat
    sw_safe = jnp.where(has_ramp, sw, 1.0)
    ingress = (phase < -half_flat) & (phase > -half_total) & has_ramp
    egress = (phase > half_flat) & (phase < half_total) & has_ramp
    frac_in = exact_div(-phase - half_flat, sw_safe)
    frac_eg = exact_div(phase - half_flat, sw_safe)
    t_flux = jnp.where(flat, 1.0 - 1.0, 1.0)
    t_flux = jnp.where(ingress, (1.0 - 1.0) + 1.0 * frac_in, t_flux)
    t_flux = jnp.where(egress, (1.0 - 1.0) + 1.0 * frac_eg, t_flux)
    t_shape = 1.0 - t_flux
    return jnp.where(half_flat <= 0, v_shape, t_shape)


# -- limb-darkened transit (Mandel & Agol 2002, small-planet approximation) --------------------


def uniform_overlap(p, z):
    """Fraction of a unit uniform disk covered by a disk of radius ``p`` at distance ``z``.

    Mandel & Agol (2002) eq. 1 (``lambda^e``); exact for any ``p`` and ``z >= 0``.
    """
    p = jnp.asarray(p, dtype=jnp.float64)
    z = jnp.abs(jnp.asarray(z, dtype=jnp.float64))
    full = z <= 1.0 - p
    none = z >= 1.0 + p
    inside_big = z <= p - 1.0  # planet covers the whole star
    zs = jnp.where(full | none | inside_big, 1.0, z)
    k0 = jnp.arccos(jnp.clip((p**2 + zs**2 - 1.0) / (2.0 * p * zs), -1.0, 1.0))
    k1 = jnp.arccos(jnp.clip((1.0 - p**2 + zs**2) / (2.0 * zs), -1.0, 1.0))
    root = jnp.sqrt(jnp.maximum(4.0 * zs**2 - (1.0 + zs**2 - p**2) ** 2, 0.0) / 4.0)
    partial = (p**2 * k0 + k1 - root) / jnp.pi
    return jnp.where(inside_big, 1.0, jnp.where(full, p**2, jnp.where(none, 0.0, partial)))


def _occulted_flux(p, z, u1, u2, n_quad: int = 32):
    """Quadratic-law flux blocked by a disk of radius ``p`` at distance ``z`` (units of R*).

    ``int I(r) L(r) dr`` over the occulted radii ``[max(z - p, 0), min(z + p, 1)]``, where
    ``L(r) = 2 r arccos((r^2 + z^2 - p^2)/(2 r z))`` is the length of the stellar circle of
    radius ``r`` inside the planet (``2 pi r`` when that circle is entirely covered); the
    substitution ``r = r1 + (r2 - r1)(1 - cos theta)/2`` removes the square-root endpoint
    behaviour and a midpoint rule in ``theta`` converges fast.  Normalised by the disk flux
    ``pi (1 - u1/3 - u2/6)``.
    """
    z = jnp.abs(z)
    r1 = jnp.maximum(z - p, 0.0)
    r2 = jnp.minimum(z + p, 1.0)
    span = jnp.maximum(r2 - r1, 0.0)
    th = (jnp.arange(n_quad, dtype=jnp.float64) + 0.5) / n_quad * jnp.pi
    r = r1[..., None] + span[..., None] * (1.0 - jnp.cos(th)) / 2.0
    dr = span[..., None] * jnp.sin(th) / 2.0 * (jnp.pi / n_quad)
    zz = jnp.where(z > 0, z, 1.0)[..., None]
    rr = jnp.where(r > 0, r, 1.0)
    cosk = (r**2 + z[..., None] ** 2 - p[..., None] ** 2) / (2.0 * rr * zz)
    kappa = jnp.where(
        z[..., None] > 0, jnp.arccos(jnp.clip(cosk, -1.0, 1.0)), jnp.where(r < p[..., None], jnp.pi, 0.0)
    )
    mu = jnp.sqrt(jnp.maximum(1.0 - r**2, 0.0))
    inten = 1.0 - u1 * (1.0 - mu) - u2 * (1.0 - mu) ** 2
    blocked = jnp.sum(inten * 2.0 * r * kappa * dr, axis=-1)
    return jnp.where(span > 0, blocked / (jnp.pi * (1.0 - u1 / 3.0 - u2 / 6.0)), 0.0)


def ld_transit_flux(dt, rp, b, t_total, u1=0.4, u2=0.25, exposure=0.0, supersample: int = 7):
    """Quadratic limb-darkened transit, normalised flux (see :func:`_occulted_flux`).

    ``dt`` days from mid-transit, ``rp`` = Rp/R*, ``b`` impact parameter, ``t_total`` = T14 in
    days (first to fourth contact; requires ``b < 1 + rp``), ``u1, u2`` quadratic
    limb-darkening coefficients.  ``supersample`` (static) sub-exposures average the flux over
    ``exposure`` days.
    """
    dt = jnp.asarray(dt, dtype=jnp.float64)
    rp = jnp.asarray(rp, dtype=jnp.float64)
    b = jnp.asarray(b, dtype=jnp.float64)
    chord = jnp.sqrt(jnp.maximum((1.0 + rp) ** 2 - b**2, 1e-300))
    v = 2.0 * chord / t_total
    n = max(int(supersample), 1)
    offs = (jnp.arange(n, dtype=jnp.float64) + 0.5) / n - 0.5
    ts = dt[..., None] + offs * jnp.asarray(exposure, dtype=jnp.float64)[..., None]
    z = jnp.sqrt(b[..., None] ** 2 + (v[..., None] * ts) ** 2)
    flux = 1.0 - _occulted_flux(jnp.broadcast_to(rp[..., None], z.shape), z, u1, u2)
    return jnp.mean(flux, axis=-1)


def tflat_ttotal_from_geometry(rp, b):
    """Geometric F/T of a transit chord (Seager & Mallen-Ornelas 2003, eqs. 3-4, a >> R*).

    ``sqrt(((1 - p)^2 - b^2)/((1 + p)^2 - b^2))``; 0 for grazing chords (``b >= 1 - p``).
    """
    rp = jnp.asarray(rp, dtype=jnp.float64)
    b = jnp.asarray(b, dtype=jnp.float64)
    num = jnp.maximum((1.0 - rp) ** 2 - b**2, 0.0)
    den = jnp.maximum((1.0 + rp) ** 2 - b**2, 1e-300)
    return jnp.sqrt(num / den)
