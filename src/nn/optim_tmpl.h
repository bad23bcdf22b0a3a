/* optim_tmpl.h - the update rules of gategrad/nn.h as loops over one
 * parameter, written once: optim.c includes it with OT (the element type of
 * the parameter and its state), OS (the name suffix) and OSQRT (sqrt for
 * OT) defined.
 * Constants are hoisted by the caller; each loop only reads w, g, m, v at i
 * and writes back there, so any split of [0, n) gives the same bits. */

#define OFN(name) OPT_CAT(name, OS)

GG_VEC static void OFN(update_)(const opt_coeffs *k, size_t n, OT *restrict w, const OT *restrict g,
                                OT *restrict m, OT *restrict v)
{
    const OT lr = (OT)k->lr, wd = (OT)k->wd, mom = (OT)k->momentum, rho = (OT)k->rho, eps = (OT)k->eps;
    const OT b1 = (OT)k->beta1, b2 = (OT)k->beta2, rest1 = (OT)(1 - k->beta1), rest2 = (OT)(1 - k->beta2);
    const OT rest_rho = (OT)(1 - k->rho), step = (OT)k->adam_step, unbias = (OT)k->adam_unbias;
    switch (k->kind) {
    case GG_OPT_SGD:
        for (size_t i = 0; i < n; i++)
            w[i] -= lr * (g[i] + wd * w[i]);
        break;
    case GG_OPT_MOMENTUM:
        for (size_t i = 0; i < n; i++) {
            m[i] = mom * m[i] + (g[i] + wd * w[i]);
            w[i] -= lr * m[i];
        }
        break;
    case GG_OPT_NESTEROV:
        for (size_t i = 0; i < n; i++) {
            OT gi = g[i] + wd * w[i];
            m[i] = mom * m[i] + gi;
            w[i] -= lr * (gi + mom * m[i]);
        }
        break;
    case GG_OPT_ADAGRAD:
        for (size_t i = 0; i < n; i++) {
            OT gi = g[i] + wd * w[i];
            v[i] += gi * gi;
            w[i] -= lr * gi / (OSQRT(v[i]) + eps);
        }
        break;
    case GG_OPT_RMSPROP:
        for (size_t i = 0; i < n; i++) {
            OT gi = g[i] + wd * w[i];
            v[i] = rho * v[i] + rest_rho * gi * gi;
            w[i] -= lr * gi / (OSQRT(v[i]) + eps);
        }
        break;
    case GG_OPT_ADAM:
        for (size_t i = 0; i < n; i++) {
            OT gi = g[i] + wd * w[i];
            m[i] = b1 * m[i] + rest1 * gi;
            v[i] = b2 * v[i] + rest2 * gi * gi;
            w[i] -= step * m[i] / (OSQRT(v[i]) * unbias + eps);
        }
        break;
    }
}

#undef OFN
