/*
 * The heavy parts of an AdaMixer decoder stage as wasm SIMD kernels over host arrays: the box-aware attention's
 * scores, softmax and weighted sum (docs/model.md §3.1), the adaptive 3D sampling and the adaptive mixing (§3.2–§3.3),
 * a Linear on packed weights (the generator and L_output around the mixing), and LORS^A's fold into a stage's
 * generator (§5.3). Built by scripts/build-wasm.sh into kernelsWasm.ts; driven by
 * kernels.ts.
 *
 * Built with -ffp-contract=off and without -ffast-math: every float operation is one IEEE float32 operation, in the
 * order written here (wasm has no fused multiply-add in SIMD128).
 */
#include <wasm_simd128.h>

/*
 * Level-weighted bilinear sampling, value for value the arithmetic of tf.image.cropAndResize on a 1×1 crop of a
 * degenerate box (sampling.ts), times the level weight, the levels summed in order:
 *   maps: the levels' zero-padded per-group maps [B·G, Hp, Wp, C], one after another;
 *   levels: per level {first float of its map in `maps`, Hp, Wp, stride};
 *   xy [N, 2] sample (x, y) in pixels; w [N, nl] level weights; image [N] map row (b·G + g) of each sample;
 *   out [N, C].
 */
void sample(int nl, const int *levels, const float *maps, int C, int N, const float *xy, const float *w,
            const int *image, float *out) {
  for (int l = 0; l < nl; l++) {
    const float *data = maps + levels[4 * l];
    const int Hp = levels[4 * l + 1], Wp = levels[4 * l + 2];
    const float stride = (float)levels[4 * l + 3];
    const float hm = (float)(Hp - 1), wm = (float)(Wp - 1);
    for (int n = 0; n < N; n++) {
      const float wv = w[n * nl + l];
      float *o = out + n * C;
      /* sampling.ts: box = (s / stride + 0.5) / (size - 1); cropAndResize: index = box · (size - 1). */
      const float yInd = ((xy[2 * n + 1] / stride + 0.5f) / hm) * hm;
      const float xInd = ((xy[2 * n] / stride + 0.5f) / wm) * wm;
      if (!(yInd >= 0.0f && yInd <= hm && xInd >= 0.0f && xInd <= wm)) {
        /* the extrapolation value 0 times the weight */
        const float z = 0.0f * wv;
        for (int c = 0; c < C; c++) o[c] = l == 0 ? z : o[c] + z;
        continue;
      }
      const int top = (int)__builtin_floorf(yInd);
      const int ceilY = (int)__builtin_ceilf(yInd);
      const int bottom = ceilY < Hp - 1 ? ceilY : Hp - 1;
      const float yl = yInd - (float)top;
      const int left = (int)__builtin_floorf(xInd);
      const int ceilX = (int)__builtin_ceilf(xInd);
      const int right = ceilX < Wp - 1 ? ceilX : Wp - 1;
      const float xl = xInd - (float)left;
      const float *base = data + image[n] * Hp * Wp * C;
      const float *tl = base + (top * Wp + left) * C, *tr = base + (top * Wp + right) * C;
      const float *bl = base + (bottom * Wp + left) * C, *br = base + (bottom * Wp + right) * C;
      const v128_t vxl = wasm_f32x4_splat(xl), vyl = wasm_f32x4_splat(yl), vw = wasm_f32x4_splat(wv);
      int c = 0;
      for (; c + 4 <= C; c += 4) {
        const v128_t a = wasm_v128_load(tl + c), d = wasm_v128_load(bl + c);
        const v128_t t = wasm_f32x4_add(a, wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(tr + c), a), vxl));
        const v128_t u = wasm_f32x4_add(d, wasm_f32x4_mul(wasm_f32x4_sub(wasm_v128_load(br + c), d), vxl));
        const v128_t v = wasm_f32x4_mul(wasm_f32x4_add(t, wasm_f32x4_mul(wasm_f32x4_sub(u, t), vyl)), vw);
        wasm_v128_store(o + c, l == 0 ? v : wasm_f32x4_add(wasm_v128_load(o + c), v));
      }
      for (; c < C; c++) {
        const float t = tl[c] + (tr[c] - tl[c]) * xl;
        const float u = bl[c] + (br[c] - bl[c]) * xl;
        const float v = (t + (u - t) * yl) * wv;
        o[c] = l == 0 ? v : o[c] + v;
      }
    }
  }
}

/*
 * One 4 × 8 tile of SIMD accumulators: c[2r + h] (row r, columns 4h … 4h + 3) += Σ_k a_r[k] · b_k over k in order,
 * a_r = a + r·lda, b_k = the 8 floats at b + k·ldb. Inlined, c lives in registers.
 */
static inline void tile4x8(v128_t c[8], int K, const float *a, int lda, const float *b, int ldb) {
  for (int k = 0; k < K; k++, b += ldb) {
    const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
    for (int r = 0; r < 4; r++) {
      const v128_t x = wasm_v128_load32_splat(a + r * lda + k);
      c[2 * r] = wasm_f32x4_add(c[2 * r], wasm_f32x4_mul(x, b0));
      c[2 * r + 1] = wasm_f32x4_add(c[2 * r + 1], wasm_f32x4_mul(x, b1));
    }
  }
}

/*
 * Y [M, N] = A [M, K] · B [K, N] (acc = 0) or Y += A · B (acc = 1), all row-major: 4 × 8 tiles (tile4x8), the rest
 * one value at a time.
 */
static void gemm(int M, int N, int K, const float *A, const float *B, float *Y, int acc) {
  int j = 0;
  for (; j + 8 <= N; j += 8) {
    int i = 0;
    for (; i + 4 <= M; i += 4) {
      float *y = Y + i * N + j;
      v128_t c[8];
      for (int r = 0; r < 4; r++) {
        c[2 * r] = acc ? wasm_v128_load(y + r * N) : wasm_f32x4_splat(0);
        c[2 * r + 1] = acc ? wasm_v128_load(y + r * N + 4) : wasm_f32x4_splat(0);
      }
      tile4x8(c, K, A + i * K, K, B + j, N);
      for (int r = 0; r < 4; r++) {
        wasm_v128_store(y + r * N, c[2 * r]);
        wasm_v128_store(y + r * N + 4, c[2 * r + 1]);
      }
    }
    for (; i < M; i++)
      for (int jj = j; jj < j + 8; jj++) {
        float s = acc ? Y[i * N + jj] : 0.0f;
        for (int k = 0; k < K; k++) s += A[i * K + k] * B[k * N + jj];
        Y[i * N + jj] = s;
      }
  }
  for (; j < N; j++)
    for (int i = 0; i < M; i++) {
      float s = acc ? Y[i * N + j] : 0.0f;
      for (int k = 0; k < K; k++) s += A[i * K + k] * B[k * N + j];
      Y[i * N + j] = s;
    }
}

/*
 * A prepared Linear weight W [K, N] (row-major, [in, out]) as panels of 8 columns, each [K, 8] contiguous:
 * P[p][k][c] = W[k][8p + c], the last panel zero-padded. linear() streams a panel with unit stride (W's own rows are
 * ~48 KB apart for a generator, which the cache maps onto a handful of sets).
 */
void packPanels(int K, int N, const float *W, float *P) {
  for (int j = 0; j < N; j += 8)
    for (int k = 0; k < K; k++)
      for (int c = 0; c < 8; c++) *P++ = j + c < N ? W[k * N + j + c] : 0.0f;
}

/*
 * Y [M, N] = A [M, K] · W + bias [N] with W packed by packPanels, each sum finished before the bias is added (as
 * matMul then add): 4 × 8 tiles (tile4x8), a panel kept in cache while every row tile passes over it.
 */
void linear(int M, int N, int K, const float *A, const float *P, const float *bias, float *Y) {
  for (int j = 0; j < N; j += 8, P += 8 * K) {
    const int w = N - j < 8 ? N - j : 8;
    float bj[8] = {0};
    for (int c = 0; c < w; c++) bj[c] = bias[j + c];
    const v128_t bias0 = wasm_v128_load(bj), bias1 = wasm_v128_load(bj + 4);
    int i = 0;
    for (; i + 4 <= M; i += 4) {
      v128_t c[8];
      for (int t = 0; t < 8; t++) c[t] = wasm_f32x4_splat(0);
      tile4x8(c, K, A + i * K, K, P, 8);
      float t[32];
      for (int r = 0; r < 4; r++) {
        wasm_v128_store(t + 8 * r, wasm_f32x4_add(c[2 * r], bias0));
        wasm_v128_store(t + 8 * r + 4, wasm_f32x4_add(c[2 * r + 1], bias1));
        __builtin_memcpy(Y + (i + r) * N + j, t + 8 * r, (unsigned long)w * sizeof(float));
      }
    }
    for (; i < M; i++)
      for (int c = 0; c < w; c++) {
        float s = 0.0f;
        for (int k = 0; k < K; k++) s += A[i * K + k] * P[8 * k + c];
        Y[i * N + j + c] = s + bias[j + c];
      }
  }
}

/* Sum of x [size] in four float32 lanes, then the lanes in order. */
static float sum(const float *x, int size) {
  v128_t s = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= size; i += 4) s = wasm_f32x4_add(s, wasm_v128_load(x + i));
  float t = wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 2) +
            wasm_f32x4_extract_lane(s, 3);
  for (; i < size; i++) t += x[i];
  return t;
}

/* x ← ReLU(LayerNorm(x)) over all `size` values, no affine (ops.ts layerNormPlain: (x − mean)·rsqrt(var + eps)). */
static void layerNormRelu(float *x, int size, float eps) {
  const float mean = sum(x, size) / (float)size;
  const v128_t vm = wasm_f32x4_splat(mean);
  v128_t s = wasm_f32x4_splat(0);
  int i = 0;
  for (; i + 4 <= size; i += 4) {
    const v128_t d = wasm_f32x4_sub(wasm_v128_load(x + i), vm);
    wasm_v128_store(x + i, d);
    s = wasm_f32x4_add(s, wasm_f32x4_mul(d, d));
  }
  float ss = wasm_f32x4_extract_lane(s, 0) + wasm_f32x4_extract_lane(s, 1) + wasm_f32x4_extract_lane(s, 2) +
             wasm_f32x4_extract_lane(s, 3);
  for (; i < size; i++) {
    x[i] -= mean;
    ss += x[i] * x[i];
  }
  const float inv = 1.0f / __builtin_sqrtf(ss / (float)size + eps);
  const v128_t vi = wasm_f32x4_splat(inv), zero = wasm_f32x4_splat(0);
  i = 0;
  for (; i + 4 <= size; i += 4) wasm_v128_store(x + i, wasm_f32x4_max(wasm_f32x4_mul(wasm_v128_load(x + i), vi), zero));
  for (; i < size; i++) {
    const float v = x[i] * inv;
    x[i] = v > 0.0f ? v : 0.0f;
  }
}

/*
 * Adaptive mixing (mixing.ts) for n query groups j: with x_j = xs[j] [P_in, C], M_c = gen[j] [C, C] and
 * M_s = gen[j] + C·C [P_out, P_in] (the generator's per-group layout, nn/generator.ts; rows gen + j·genStride),
 *   a = ReLU(LN(x_j · M_c)),  out[j] = ReLU(LN(M_s · a))  [P_out, C].
 * scratch: P_in·C floats.
 */
void mix(int n, int Pin, int Pout, int C, const float *xs, const float *gen, int genStride, float eps,
         float *scratch, float *out) {
  for (int j = 0; j < n; j++) {
    const float *mc = gen + j * genStride;
    gemm(Pin, C, C, xs + j * Pin * C, mc, scratch, 0);
    layerNormRelu(scratch, Pin * C, eps);
    float *o = out + j * Pout * C;
    gemm(Pout, C, Pin, mc + C * C, scratch, o, 0);
    layerNormRelu(o, Pout * C, eps);
  }
}

/*
 * e^x in float32 (no libm here): x = n·ln 2 + t with |t| ≤ ln 2 / 2 (ln 2 in two parts, so t is exact), e^t by its
 * degree-6 Taylor-like minimax polynomial (Cephes expf, ≤ 2 ulp), times 2^n built from the exponent bits.
 */
static float expf32(float x) {
  if (x > 88.7f) return __builtin_inff();
  if (x < -103.9f) return 0.0f;
  const float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
  const float t = (x - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * t + 1.3981999507e-3f;
  p = p * t + 8.3334519073e-3f;
  p = p * t + 4.1665795894e-2f;
  p = p * t + 1.6666665459e-1f;
  p = p * t + 5.0000001201e-1f;
  p = p * t * t + t + 1.0f;
  int e = (int)n;
  /* 2^e as float bits, in two factors when e is below the normal range */
  union { int i; float f; } s1, s2;
  if (e < -126) {
    s1.i = (e + 126 + 127) << 23;
    s2.i = (-126 + 127) << 23;
    return p * s1.f * s2.f;
  }
  s1.i = (e + 127) << 23;
  return p * s1.f;
}

/*
 * Multi-head attention of one stage with an additive per-head bias (docs/model.md §3.1), per image b and head h:
 *   logits[i, j] = (Q_i · scale) · K_j + logIof[b, i, j] · tau[h],  att_i = Σ_j softmax_j(logits[i, ·]) V_j.
 * qkv [B, L, 3, H, hd] (the in-projection's output), logIof [B, L, L], tau [H]; out [B, L, H·hd] (heads merged).
 * row: L floats of scratch.
 */
void attend(int B, int L, int H, int hd, const float *qkv, const float *logIof, const float *tau, float scale,
            float *row, float *out) {
  const int stride = 3 * H * hd;
  const v128_t vs = wasm_f32x4_splat(scale);
  for (int b = 0; b < B; b++) {
    for (int h = 0; h < H; h++) {
      const float *Q = qkv + b * L * stride + h * hd, *K = Q + H * hd, *V = K + H * hd;
      for (int i = 0; i < L; i++) {
        const float *qi = Q + i * stride;
        const float *bias = logIof + (b * L + i) * L;
        float max = -__builtin_inff();
        for (int j = 0; j < L; j++) {
          const float *kj = K + j * stride;
          /* (Q_i · scale) · K_j, four lanes, then the lanes in order */
          v128_t acc = wasm_f32x4_splat(0);
          int d = 0;
          for (; d + 4 <= hd; d += 4)
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_mul(wasm_v128_load(qi + d), vs), wasm_v128_load(kj + d)));
          float s = wasm_f32x4_extract_lane(acc, 0) + wasm_f32x4_extract_lane(acc, 1) + wasm_f32x4_extract_lane(acc, 2) +
                    wasm_f32x4_extract_lane(acc, 3);
          for (; d < hd; d++) s += (qi[d] * scale) * kj[d];
          const float v = s + bias[j] * tau[h];
          row[j] = v;
          if (v > max) max = v;
        }
        float sum = 0.0f;
        for (int j = 0; j < L; j++) {
          row[j] = expf32(row[j] - max);
          sum += row[j];
        }
        const float inv = 1.0f / sum;
        float *o = out + (b * L + i) * H * hd + h * hd;
        int d = 0;
        for (; d + 4 <= hd; d += 4) {
          v128_t acc = wasm_f32x4_splat(0);
          for (int j = 0; j < L; j++)
            acc = wasm_f32x4_add(acc, wasm_f32x4_mul(wasm_f32x4_splat(row[j] * inv), wasm_v128_load(V + j * stride + d)));
          wasm_v128_store(o + d, acc);
        }
        for (; d < hd; d++) {
          float acc = 0.0f;
          for (int j = 0; j < L; j++) acc += (row[j] * inv) * V[j * stride + d];
          o[d] = acc;
        }
      }
    }
  }
}

/*
 * LORS^A's folded generator of one stage (docs/model.md §5.3; fold.ts lorsAPrivateFolded plus the shared generator)
 * in the prepared layout: out [X = dq + 1, genOut] (rows: the weight's dq input features, then the bias) =
 *   shared [X, genOut] + per row j, sampling group g and half (M_c: B̂ = ml, Â = mr; M_s: sl, sr):
 *   Σ_k B̂_(g,k) · E_(g,k)[:, :, j] · Â_(g,k), written into that half's block of group g.
 * E [2·G·K·r·r, X]: the E generator's weight (PyTorch [out, in] rows (half, g, k, s, t)) with its bias as column dq.
 * ml [G·K, C, r], mr [G·K, r, C], sl [G·K, P_out, r], sr [G·K, r, P_in]. scratch: K·r·r + max(C, P_out)·(K + 1)·r
 * floats.
 */
void foldLorsA(int X, int G, int K, int r, int C, int Pout, int Pin, const float *shared, const float *E,
               const float *ml, const float *mr, const float *sl, const float *sr, float *scratch, float *out) {
  const int genPerGroup = C * C + Pout * Pin, genOut = G * genPerGroup, Kr = K * r;
  const int most = C > Pout ? C : Pout;
  __builtin_memcpy(out, shared, (unsigned long)X * genOut * sizeof(float));
  float *Ej = scratch, *BEk = Ej + K * r * r, *BE = BEk + most * r;
  for (int j = 0; j < X; j++) {
    for (int g = 0; g < G; g++) {
      for (int h = 0; h < 2; h++) {
        const int rows = h ? Pout : C, cols = h ? Pin : C;
        const float *Bh = (h ? sl : ml) + g * K * rows * r, *Ah = (h ? sr : mr) + g * K * r * cols;
        /* E_k[s, t] of row j, k = 0 … K-1, contiguous */
        for (int k = 0; k < K; k++)
          for (int st = 0; st < r * r; st++) Ej[k * r * r + st] = E[(((h * G + g) * K + k) * r * r + st) * X + j];
        /* BE [rows, (k, t)]: column block k is B̂_k [rows, r] · E_k [r, r] */
        for (int k = 0; k < K; k++) {
          gemm(rows, r, r, Bh + k * rows * r, Ej + k * r * r, BEk, 0);
          for (int c = 0; c < rows; c++)
            for (int t = 0; t < r; t++) BE[c * Kr + k * r + t] = BEk[c * r + t];
        }
        gemm(rows, cols, Kr, BE, Ah, out + j * genOut + g * genPerGroup + h * C * C, 1);
      }
    }
  }
}
