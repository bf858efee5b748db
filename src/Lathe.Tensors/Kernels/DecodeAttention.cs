using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Attention of one new query per (batch, head) over the first S rows of a KV cache — the decoding step.
/// The blocked <see cref="FlashAttention"/> pays for query tiles and masks that one query does not need; this does
/// the three obvious passes (scores, softmax, weighted sum of V) per head, each head a task on the pool.</summary>
public static unsafe class DecodeAttention
{
    /// <summary>o (B,H,1,D) = softmax(q·Kᵀ·scale)·V over keys 0..S−1 of k, v (B,Hkv,capacity,D); head h reads kv
    /// head h / (H/Hkv). Every key is visible (causal with the query last).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Forward(float* q, float* k, float* v, float* o, int B, int H, int Hkv, int S, int D, int capacity, float scale)
    {
        if (B < 0 || H <= 0 || Hkv <= 0 || H % Hkv != 0 || S <= 0 || D <= 0 || capacity < S)
            throw new ArgumentException($"DecodeAttention: dims B={B}, H={H}, Hkv={Hkv}, S={S}, D={D}, capacity={capacity} do not fit.");
        if (B > 0 && (q == null || k == null || v == null || o == null))
            throw new ArgumentException($"DecodeAttention: null buffer for B={B}, H={H}, S={S}, D={D}.");
        var body = new Body { Q = q, K = k, V = v, O = o, H = H, Hkv = Hkv, S = S, D = D, Capacity = capacity, Scale = scale };
        int tasks = B * H;
        if ((long)tasks * S * D < 32 * 1024) for (int i = 0; i < tasks; i++) body.Execute(i);
        else ComputePool.Shared.For(tasks, ref body);
    }

    struct Body : IParallelBody
    {
        public float* Q, K, V, O;
        public int H, Hkv, S, D, Capacity;
        public float Scale;

        public void Execute(int task)
        {
            int b = task / H, h = task % H, kvh = h / (H / Hkv);
            var query = new ReadOnlySpan<float>(Q + (long)task * D, D);
            float* kb = K + ((long)b * Hkv + kvh) * Capacity * D, vb = V + ((long)b * Hkv + kvh) * Capacity * D;
            var scores = new Span<float>(Scratch.Get(S), S);
            for (int s = 0; s < S; s++) scores[s] = TensorPrimitives.Dot(query, new ReadOnlySpan<float>(kb + (long)s * D, D)) * Scale;
            float max = TensorPrimitives.Max(scores);
            TensorPrimitives.Subtract(scores, max, scores);
            TensorPrimitives.Exp(scores, scores);
            float inverse = 1f / TensorPrimitives.Sum(scores);
            var output = new Span<float>(O + (long)task * D, D);
            output.Clear();
            for (int s = 0; s < S; s++)
                TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(vb + (long)s * D, D), scores[s] * inverse, output, output);
        }
    }
}
