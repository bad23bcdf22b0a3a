/* kernels/gemm_tmpl.h - the blocked GEMM driver, written once for both
 * element types: gemm.c includes it with GT (the type), GS (the name
 * suffix), GMR/GNR/GUKR (the path's fields for that type) defined.
 *
 * Loop nest (GotoBLAS/BLIS, transposed so that the vector dimension is N,
 * the contiguous one in row-major C):
 *   ic over M in MB rows        A block:    MB x kc, packed (L2/L3), or
 *                               read in place when op(A) fits in L2
 *     pc over K in kc           (one K slice: the only reduction split)
 *       jc over N in NB cols    B block:    kc x NB, packed (L2)
 *         ir over MR rows       A panel:    MR x kc stays in L1
 *           jr over NR cols     B panel:    streamed from L2
 *             micro-kernel on an MR x NR tile of C
 * kc depends on K alone, so every element of C sees the same sequence of
 * operations whatever M/N range a thread gets: threading is bit-exact. */

#define FN(name) GG_CAT(name, GS)

typedef struct FN(job_) {
    int transa, transb, beta1;
    size_t M, N, K, lda, ldb, ldc;
    const GT *A, *B;
    GT *C;
    size_t mr, nr, kc;
    GUKR_T ukr;
    GUKR_T ukr_rows;   /* row-major twin of ukr, or NULL */
    int a_inplace;     /* op(A)'s full panels are read in place, not packed */
    GPACK_T pack_trans, pack_copy; /* optional fast packers */
    int split_n;       /* threads split N (else M) */
    size_t unit, units; /* split granularity and count of units */
    size_t chunks;      /* units are dealt out in this many chunks */
    atomic_size_t next; /* next chunk to claim */
} FN(job_);

/* Unblocked fallback, used only if a workspace cannot be allocated (so its
 * results may differ in the last bits from the blocked path's). */
static void FN(naive_)(const FN(job_) *jb, size_t m0, size_t m1, size_t n0,
                       size_t n1)
{
    for (size_t i = m0; i < m1; i++)
        for (size_t j = n0; j < n1; j++) {
            GT acc = 0;
            for (size_t p = 0; p < jb->K; p++) {
                GT a = jb->transa ? jb->A[p * jb->lda + i] : jb->A[i * jb->lda + p];
                GT b = jb->transb ? jb->B[j * jb->ldb + p] : jb->B[p * jb->ldb + j];
                acc += a * b;
            }
            GT *c = &jb->C[i * jb->ldc + j];
            *c = jb->beta1 ? *c + acc : acc;
        }
}

/* Packs mb x kb of op(A) (A points at its top-left element) into MR-row
 * micro-panels: dst[panel][p*MR + i], rows past mb zeroed. */
static void FN(pack_a_)(int ta, const GT *A, size_t lda, size_t mb, size_t kb,
                        size_t MR, GT *restrict dst)
{
    for (size_t ir = 0; ir < mb; ir += MR, dst += MR * kb) {
        size_t m = mb - ir < MR ? mb - ir : MR;
        if (ta) { /* op(A) row i is a column of A: MR values contiguous per p */
            for (size_t p = 0; p < kb; p++) {
                const GT *src = A + p * lda + ir;
                for (size_t i = 0; i < m; i++)
                    dst[p * MR + i] = src[i];
                for (size_t i = m; i < MR; i++)
                    dst[p * MR + i] = 0;
            }
        } else {
            for (size_t i = 0; i < m; i++)
                GG_CAT(gg_scatter_, GS)(A + (ir + i) * lda, kb, MR, dst + i);
            for (size_t i = m; i < MR; i++)
                for (size_t p = 0; p < kb; p++)
                    dst[p * MR + i] = 0;
        }
    }
}

/* Packs kb x nb of op(B) (B points at its top-left element) into NR-column
 * micro-panels: dst[panel][p*NR + j], columns past nb zeroed. */
static void FN(pack_b_)(int tb, const GT *B, size_t ldb, size_t kb, size_t nb,
                        size_t NR, GT *restrict dst)
{
    for (size_t jr = 0; jr < nb; jr += NR, dst += NR * kb) {
        size_t n = nb - jr < NR ? nb - jr : NR;
        if (!tb) {
            for (size_t p = 0; p < kb; p++) {
                const GT *src = B + p * ldb + jr;
                for (size_t j = 0; j < n; j++)
                    dst[p * NR + j] = src[j];
                for (size_t j = n; j < NR; j++)
                    dst[p * NR + j] = 0;
            }
        } else { /* op(B) column j is a row of B */
            for (size_t j = 0; j < n; j++)
                GG_CAT(gg_scatter_, GS)(B + (jr + j) * ldb, kb, NR, dst + j);
            for (size_t j = n; j < NR; j++)
                for (size_t p = 0; p < kb; p++)
                    dst[p * NR + j] = 0;
        }
    }
}

/* Block sizes in rows/columns for this job's register block. */
static size_t FN(mb_)(const FN(job_) *jb) { return (MB_TARGET + jb->mr - 1) / jb->mr * jb->mr; }
static size_t FN(nb_)(const FN(job_) *jb) { return (NB_TARGET + jb->nr - 1) / jb->nr * jb->nr; }

/* Workspace bytes: one A block and one B block (both full-width padded). */
static size_t FN(ws_bytes_)(const FN(job_) *jb)
{
    size_t kmax = KC_BYTES / sizeof(GT);
    return (FN(mb_)(jb) + FN(nb_)(jb)) * kmax * sizeof(GT);
}

/* Packs op(A)[ic .. ic+mb, pc .. pc+kb) into MR-row panels at Ap. */
static void FN(pack_a_block_)(const FN(job_) *jb, size_t ic, size_t pc, size_t mb,
                              size_t kb, GT *Ap)
{
    if (!jb->transa && jb->pack_trans)
        jb->pack_trans(jb->A + ic * jb->lda + pc, jb->lda, mb, kb, jb->mr, Ap);
    else if (jb->transa && jb->pack_copy)
        jb->pack_copy(jb->A + pc * jb->lda + ic, jb->lda, mb, kb, jb->mr, Ap);
    else
        FN(pack_a_)(jb->transa,
                    jb->transa ? jb->A + pc * jb->lda + ic : jb->A + ic * jb->lda + pc,
                    jb->lda, mb, kb, jb->mr, Ap);
}

/* Packs op(B)[pc .. pc+kb, jc .. jc+nb) into NR-column panels at Bp. */
static void FN(pack_b_block_)(const FN(job_) *jb, size_t pc, size_t jc, size_t kb,
                              size_t nb, GT *Bp)
{
    if (jb->transb && jb->pack_trans)
        jb->pack_trans(jb->B + jc * jb->ldb + pc, jb->ldb, nb, kb, jb->nr, Bp);
    else if (!jb->transb && jb->pack_copy)
        jb->pack_copy(jb->B + pc * jb->ldb + jc, jb->ldb, nb, kb, jb->nr, Bp);
    else
        FN(pack_b_)(jb->transb,
                    jb->transb ? jb->B + jc * jb->ldb + pc : jb->B + pc * jb->ldb + jc,
                    jb->ldb, kb, nb, jb->nr, Bp);
}

/* Where the micro-kernel finds a block's A panels: panel r (r a multiple
 * of MR) at at + r*step with leading dimension ld, read by ukr, while
 * r < full; past that (the edge panel of an A read in place) packed at edge
 * (leading dimension MR, read by the job's k-major kernel). */
typedef struct FN(a_panels_) {
    const GT *at, *edge;
    size_t step, ld, full;
    GUKR_T ukr;
} FN(a_panels_);

/* op(A)[ic .. ic+mb, pc .. pc+kb): packed into Ap, or read in place with
 * only its edge panel packed there. */
static FN(a_panels_) FN(a_block_)(const FN(job_) *jb, size_t ic, size_t pc, size_t mb,
                                  size_t kb, GT *Ap)
{
    const size_t MR = jb->mr;
    if (!jb->a_inplace) {
        FN(pack_a_block_)(jb, ic, pc, mb, kb, Ap);
        return (FN(a_panels_)){.at = Ap, .step = kb, .ld = MR, .full = mb, .ukr = jb->ukr};
    }
    size_t full = mb / MR * MR;
    if (full < mb)
        FN(pack_a_block_)(jb, ic + full, pc, mb - full, kb, Ap);
    if (jb->transa) /* op(A) row i is column i of A: k-major as it stands */
        return (FN(a_panels_)){.at = jb->A + pc * jb->lda + ic, .edge = Ap, .step = 1,
                               .ld = jb->lda, .full = full, .ukr = jb->ukr};
    return (FN(a_panels_)){.at = jb->A + ic * jb->lda + pc, .edge = Ap, .step = jb->lda,
                           .ld = jb->lda, .full = full, .ukr = jb->ukr_rows};
}

/* Micro-kernel over every tile of an mb x nb block, C at its corner: one A
 * panel (L1) against each packed B panel in turn (L2). */
static void FN(macro_kernel_)(const FN(job_) *jb, const FN(a_panels_) *a, const GT *Bp,
                              GT *C, size_t mb, size_t nb, size_t kb, int acc)
{
    const size_t MR = jb->mr, NR = jb->nr;
    for (size_t ir = 0; ir < mb; ir += MR) {
        int in_place = ir < a->full;
        const GT *ap = in_place ? a->at + ir * a->step : a->edge;
        size_t lda = in_place ? a->ld : MR;
        GUKR_T ukr = in_place ? a->ukr : jb->ukr;
        for (size_t jr = 0; jr < nb; jr += NR)
            ukr(kb, ap, lda, Bp + jr * kb, NR, C + ir * jb->ldc + jr, jb->ldc, acc,
                mb - ir < MR ? mb - ir : MR, nb - jr < NR ? nb - jr : NR);
    }
}

/* The blocked product on rows [m0, m1) x columns [n0, n1) of C. The first
 * K slice stores (beta = 0) or adds (beta = 1); later slices add. */
static void FN(blocked_)(const FN(job_) *jb, size_t m0, size_t m1, size_t n0,
                         size_t n1, GT *ws)
{
    const size_t MB = FN(mb_)(jb), NB = FN(nb_)(jb);
    GT *Ap = ws, *Bp = ws + MB * (KC_BYTES / sizeof(GT));
    for (size_t ic = m0; ic < m1; ic += MB) {
        size_t mb = m1 - ic < MB ? m1 - ic : MB;
        for (size_t pc = 0; pc < jb->K; pc += jb->kc) {
            size_t kb = jb->K - pc < jb->kc ? jb->K - pc : jb->kc;
            FN(a_panels_) a = FN(a_block_)(jb, ic, pc, mb, kb, Ap);
            for (size_t jc = n0; jc < n1; jc += NB) {
                size_t nb = n1 - jc < NB ? n1 - jc : NB;
                FN(pack_b_block_)(jb, pc, jc, kb, nb, Bp);
                FN(macro_kernel_)(jb, &a, Bp, jb->C + ic * jb->ldc + jc, mb, nb, kb,
                                  jb->beta1 || pc > 0);
            }
        }
    }
}

/* One chunk: a contiguous run of whole units of M or N. */
static void FN(chunk_)(const FN(job_) *jb, size_t c, GT *ws)
{
    size_t dim = jb->split_n ? jb->N : jb->M;
    size_t lo = jb->units * c / jb->chunks * jb->unit;
    size_t hi = jb->units * (c + 1) / jb->chunks * jb->unit;
    if (hi > dim)
        hi = dim;
    if (lo >= hi)
        return;
    size_t m0 = jb->split_n ? 0 : lo, m1 = jb->split_n ? jb->M : hi;
    size_t n0 = jb->split_n ? lo : 0, n1 = jb->split_n ? hi : jb->N;
    if (ws)
        FN(blocked_)(jb, m0, m1, n0, n1, ws);
    else
        FN(naive_)(jb, m0, m1, n0, n1);
}

/* A thread's part of the job: chunks claimed first come, first served, so a
 * thread that the OS delays (a busy machine) takes fewer. Which thread
 * computes a chunk never changes its arithmetic. */
static void FN(task_)(void *arg, int tid, int nthreads)
{
    (void)tid;
    (void)nthreads;
    FN(job_) *jb = arg;
    gg_ws *ws = NULL;
    for (;;) {
        size_t c = atomic_fetch_add_explicit(&jb->next, 1, memory_order_relaxed);
        if (c >= jb->chunks)
            break;
        if (!ws)
            ws = ws_get(FN(ws_bytes_)(jb));
        FN(chunk_)(jb, c, ws ? ws_data(ws) : NULL);
    }
    if (ws)
        ws_put(ws);
}

/* Reads op(A) in place when all of it fits in L2 (A^T as it stands, A
 * through the row-major kernel): packing it would then cost a pass over A
 * for each chunk and buy no locality. A larger A is packed, since reading
 * its panels in place would stride across many pages (and, for
 * power-of-two strides, alias in the caches). */
static void FN(choose_inplace_)(FN(job_) *jb, GUKR_T ukr_rows)
{
    jb->ukr_rows = ukr_rows;
    jb->a_inplace = jb->M * jb->K * sizeof(GT) <= A_INPLACE_MAX_BYTES
                    && (jb->transa || ukr_rows);
}

/* C = beta*C (beta not 0 or 1 is handled by scaling first) for K == 0, and
 * the general-beta pre-scaling. */
static void FN(scale_c_)(size_t M, size_t N, GT beta, GT *C, size_t ldc)
{
    for (size_t i = 0; i < M; i++)
        for (size_t j = 0; j < N; j++)
            C[i * ldc + j] = beta == 0 ? 0 : beta * C[i * ldc + j];
}

void FN(gg__gemm_)(int transa, int transb, size_t M, size_t N, size_t K,
                   const GT *A, size_t lda, const GT *B, size_t ldb, GT beta,
                   GT *C, size_t ldc)
{
    if (M == 0 || N == 0)
        return;
    if (K == 0 || (beta != 0 && beta != 1)) {
        FN(scale_c_)(M, N, beta, C, ldc);
        if (K == 0)
            return;
        beta = 1;
    }
    const gg__gemm_path *path = current_path();
    FN(job_) jb = {
        .transa = transa != 0, .transb = transb != 0, .beta1 = beta != 0,
        .M = M, .N = N, .K = K, .lda = lda, .ldb = ldb, .ldc = ldc,
        .A = A, .B = B, .C = C,
        .mr = path->GMR, .nr = path->GNR, .ukr = path->GUKR,
        .pack_trans = GPACK_TRANS(path), .pack_copy = GPACK_COPY(path),
        .kc = pick_kc(K, KC_BYTES / sizeof(GT)),
    };
    GUKR_T rows = GUKR_ROWS(path); /* the row-major twin of jb.ukr */
    GNARROW(path, &jb, rows);
    FN(choose_inplace_)(&jb, rows);
    int want = plan_split(M, N, K, jb.mr, jb.nr, &jb.split_n, &jb.unit, &jb.units,
                          &jb.chunks);
    atomic_init(&jb.next, 0);
    if (want > 1)
        ws_reserve(want, FN(ws_bytes_)(&jb));
    gg__parallel_run(FN(task_), &jb, want);
}

#undef FN
