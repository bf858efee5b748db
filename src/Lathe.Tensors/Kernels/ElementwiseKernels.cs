using System.Numerics.Tensors;
using Lathe.Tensors.Threading;

namespace Lathe.Tensors.Kernels;

/// <summary>Elementwise activations (exp, log, tanh, sqrt, GELU, SiLU, SwiGLU) and dropout, vectorized through
/// TensorPrimitives and parallel over fixed-size chunks. Twins: <see cref="UnaryKernels"/>.</summary>
internal static unsafe class ElementwiseKernels
{
    public const int Exp = 0, Log = 1, Tanh = 2, Sqrt = 3, GeluTanh = 4, GeluErf = 5, Silu = 6, SwiGlu = 7, Dropout = 8;
    const int Chunk = 8192;
    const float Sqrt2OverPi = 0.7978845608028654f, GeluCoeff = 0.044715f;

    struct Body : IParallelBody
    {
        public float* X, U, Y, DY, DX, DU;
        public int N, Kind;
        public bool Backward;
        // Backward into a gradient this pass has not touched: its old contents are garbage. The erf GELU writes it;
        // other kinds clear their chunk first (in cache, on the pool) and add as usual.
        public bool Overwrite;
        public float P;
        public ulong Seed;

        public void Execute(int chunk)
        {
            int start = chunk * Chunk, len = Math.Min(Chunk, N - start);
            if (Backward) BackwardChunk(start, len);
            else ForwardChunk(start, len);
        }

        void ForwardChunk(int s, int n)
        {
            var x = new ReadOnlySpan<float>(X + s, n);
            var y = new Span<float>(Y + s, n);
            switch (Kind)
            {
                case Exp: TensorPrimitives.Exp(x, y); break;
                case Log: TensorPrimitives.Log(x, y); break;
                case Tanh: TensorPrimitives.Tanh(x, y); break;
                case Sqrt: TensorPrimitives.Sqrt(x, y); break;
                case GeluTanh when System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated: GeluTanhKernel.Forward(X + s, Y + s, n); break;
                case GeluTanh:
                    // y = ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
                    TensorPrimitives.Multiply(x, x, y);
                    TensorPrimitives.Multiply(y, GeluCoeff, y);
                    TensorPrimitives.Add(y, 1f, y);
                    TensorPrimitives.Multiply(y, x, y);
                    TensorPrimitives.Multiply(y, Sqrt2OverPi, y);
                    TensorPrimitives.Tanh(y, y);
                    TensorPrimitives.Add(y, 1f, y);
                    TensorPrimitives.Multiply(y, x, y);
                    TensorPrimitives.Multiply(y, 0.5f, y);
                    break;
                case GeluErf: GeluErfKernel.Forward(X + s, Y + s, n); break;
                case Silu when System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated: SiluKernel.Forward(X + s, null, Y + s, n); break;
                case SwiGlu when System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated: SiluKernel.Forward(X + s, U + s, Y + s, n); break;
                case Silu:
                    TensorPrimitives.Sigmoid(x, y);
                    TensorPrimitives.Multiply(y, x, y);
                    break;
                case SwiGlu:
                    TensorPrimitives.Sigmoid(x, y);
                    TensorPrimitives.Multiply(y, x, y);
                    TensorPrimitives.Multiply(y, new ReadOnlySpan<float>(U + s, n), y);
                    break;
                default:
                {
                    float scale = 1f / (1f - P);
                    for (int i = 0; i < n; i++)
                        y[i] = ReferenceKernels.Uniform(Seed, (ulong)(s + i)) >= P ? x[i] * scale : 0f;
                    break;
                }
            }
        }

        void BackwardChunk(int s, int n)
        {
            var dy = new ReadOnlySpan<float>(DY + s, n);
            var dx = new Span<float>(DX + s, n);
            var x = new ReadOnlySpan<float>(X + s, n);
            var t = new Span<float>(Scratch.Get(2L * n), n);
            var t2 = new Span<float>(Scratch.Get(2L * n) + n, n);
            if (Overwrite && Kind != GeluErf && DX != null) dx.Clear();
            switch (Kind)
            {
                case Exp: TensorPrimitives.MultiplyAdd(dy, new ReadOnlySpan<float>(Y + s, n), dx, dx); break;  // d = y
                case Log: TensorPrimitives.Divide(dy, x, t); TensorPrimitives.Add(dx, t, dx); break;
                case Tanh:
                {
                    var y = new ReadOnlySpan<float>(Y + s, n);
                    TensorPrimitives.Multiply(y, y, t);           // d = 1 − y²
                    TensorPrimitives.Subtract(1f, t, t);
                    TensorPrimitives.MultiplyAdd(dy, t, dx, dx);
                    break;
                }
                case Sqrt: TensorPrimitives.Divide(dy, new ReadOnlySpan<float>(Y + s, n), t); TensorPrimitives.MultiplyAdd(t, 0.5f, dx, dx); break;
                case GeluTanh when System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated: GeluTanhKernel.Backward(X + s, DY + s, DX + s, n); break;
                case GeluTanh:
                {
                    // u = c(x + a x³), th = tanh(u): d = ½(1 + th) + ½x(1 − th²)·c(1 + 3a x²)
                    TensorPrimitives.Multiply(x, x, t2);                          // x²
                    TensorPrimitives.Multiply(t2, GeluCoeff, t);                 // 1 + a x²
                    TensorPrimitives.Add(t, 1f, t);
                    TensorPrimitives.Multiply(t, x, t);
                    TensorPrimitives.Multiply(t, Sqrt2OverPi, t);
                    TensorPrimitives.Tanh(t, t);                                  // th
                    TensorPrimitives.Multiply(t2, 3 * GeluCoeff * Sqrt2OverPi, t2);  // c(1 + 3a x²)
                    TensorPrimitives.Add(t2, Sqrt2OverPi, t2);
                    TensorPrimitives.Multiply(t2, x, t2);
                    for (int i = 0; i < n; i++)
                    {
                        float th = t[i];
                        dx[i] += dy[i] * (0.5f * (1f + th) + 0.5f * (1f - th * th) * t2[i]);
                    }
                    break;
                }
                case GeluErf: GeluErfKernel.Backward(X + s, Y + s, DY + s, DX + s, n, Overwrite); break;
                case Silu when System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated: SiluKernel.Backward(X + s, null, DY + s, DX + s, null, n); break;
                case SwiGlu when System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated:
                    SiluKernel.Backward(X + s, U + s, DY + s, DX == null ? null : DX + s, DU == null ? null : DU + s, n);
                    break;
                case Silu:
                    // d = σ(x)(1 + x(1 − σ(x)))
                    TensorPrimitives.Sigmoid(x, t);
                    for (int i = 0; i < n; i++) dx[i] += dy[i] * t[i] * (1f + x[i] * (1f - t[i]));
                    break;
                case SwiGlu:
                {
                    var u = new ReadOnlySpan<float>(U + s, n);
                    TensorPrimitives.Sigmoid(x, t);
                    for (int i = 0; i < n; i++)
                    {
                        float sg = t[i], silu = x[i] * sg;
                        if (DU != null) DU[s + i] += dy[i] * silu;
                        if (DX != null) DX[s + i] += dy[i] * u[i] * sg * (1f + x[i] * (1f - sg));
                    }
                    break;
                }
                default:
                {
                    float scale = 1f / (1f - P);
                    for (int i = 0; i < n; i++)
                        if (ReferenceKernels.Uniform(Seed, (ulong)(s + i)) >= P) dx[i] += dy[i] * scale;
                    break;
                }
            }
        }
    }

    static int Chunks(int n) => (n + Chunk - 1) / Chunk;

    public static void Forward(int kind, float* x, float* y, int n, float* u = null, float p = 0, ulong seed = 0)
    {
        var body = new Body { Kind = kind, X = x, Y = y, U = u, N = n, P = p, Seed = seed };
        ComputePool.Shared.For(Chunks(n), ref body);
    }

    /// <summary>dx (and du for SwiGLU) += dy·f'(x). y is the forward output where the derivative reads it.</summary>
    public static void Backward(int kind, float* x, float* y, float* dy, float* dx, int n, float* u = null, float* du = null, float p = 0, ulong seed = 0,
        bool overwrite = false)
    {
        if (overwrite && du != null) throw new ArgumentException("ElementwiseKernels.Backward: overwrite is for one-input kinds (dx only)");
        var body = new Body { Kind = kind, X = x, Y = y, DY = dy, DX = dx, U = u, DU = du, N = n, P = p, Seed = seed, Backward = true, Overwrite = overwrite };
        ComputePool.Shared.For(Chunks(n), ref body);
    }
}
