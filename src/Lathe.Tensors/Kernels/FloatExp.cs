using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Lathe.Tensors.Kernels;

/// <summary>e^x for 16 floats in single precision, for the elementwise kernels' hot loops. .NET's Vector512.Exp of
/// float widens to double and narrows back (two double evaluations per vector); this stays in float: n = round(x·log₂e),
/// r = x − n·ln 2 with ln 2 split in a high part exact in float and a low part (Cody–Waite), so |r| ≤ ln 2 / 2, then e^r
/// by its Taylor series to r⁷/7! (truncation below 6e-9 relative on that interval, under one float ulp) in Horner form,
/// and 2ⁿ applied by VSCALEFPS, which rounds results in the subnormal range and saturates to 0 and ∞ correctly.
/// Error ≤ 2 ulp against the correctly rounded value (tested over the float range against Math.Exp in double).
/// Inputs are clamped to [−104, 89] first (e^x is 0 or ∞ in float beyond), and NaN passes through.</summary>
internal static unsafe class FloatExp
{
    const float Log2E = 1.44269504088896341f;
    const float Ln2Hi = 0.693145751953125f;          // ln 2 to 16 bits: n·Ln2Hi is exact for |n| < 2⁸
    const float Ln2Lo = 1.42860682030941723212e-6f;   // ln 2 − Ln2Hi

    /// <summary>True where <see cref="Exp"/> runs on this machine (it needs AVX-512 F).</summary>
    public static bool IsSupported => Avx512F.IsSupported;

    /// <summary>e^x by <see cref="Exp"/> where AVX-512 F is there, else .NET's Vector512.Exp (the elementwise kernels'
    /// entry: the GELUs and SiLU's sigmoid).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp512(Vector512<float> x) => IsSupported ? Exp(x) : Vector512.Exp(x);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<float> Exp(Vector512<float> x)
    {
        var xc = Vector512.Min(Vector512.Max(x, Vector512.Create(-104f)), Vector512.Create(89f));
        var n = Avx512F.RoundScale(xc * Vector512.Create(Log2E), 0);            // round to nearest even
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Hi), xc);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-Ln2Lo), r);
        var p = Vector512.Create(1f / 5040f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 720f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 120f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 24f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1f / 6f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(0.5f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512<float>.One);
        var y = Avx512F.Scale(p, n);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), y, x);       // NaN in, NaN out
    }

    /// <summary>destination = e^(x − shift) (destination may be x itself); returns Σ destination, summed 16 lanes wide
    /// then across the lanes. The softmax rows of attention, cross-entropy and softmax share it: .NET's
    /// TensorPrimitives.Exp evaluates float in double (VectorMath.ExpSingle) at about twice the cost.</summary>
    public static float ExpShiftedSum(ReadOnlySpan<float> x, float shift, Span<float> destination)
    {
        if (destination.Length < x.Length) throw new ArgumentException("FloatExp: destination shorter than the input.");
        if (Vector512.IsHardwareAccelerated && (IsSupported || x.Length % 16 == 0))
        {
            fixed (float* src = x)
            fixed (float* dst = destination)
            {
                var m = Vector512.Create(shift);
                var sum = Vector512<float>.Zero;
                int j = 0, n = x.Length;
                for (; j + 16 <= n; j += 16)
                {
                    var e = Exp512(Vector512.Load(src + j) - m);
                    e.Store(dst + j);
                    sum += e;
                }
                if (j < n)
                {
                    // The last n − j < 16 values (a 50-token ViT row leaves 2) in one padded vector, padding dropped.
                    float* lanes = stackalloc float[16];
                    int tail = n - j;
                    for (int q = 0; q < 16; q++) lanes[q] = q < tail ? src[j + q] : shift;
                    var e = Exp512(Vector512.Load(lanes) - m);
                    e = Vector512.ConditionalSelect(Vector512.LessThan(Vector512<int>.Indices, Vector512.Create(tail)).AsSingle(), e, Vector512<float>.Zero);
                    e.Store(lanes);
                    for (int q = 0; q < tail; q++) dst[j + q] = lanes[q];
                    sum += e;
                }
                return Vector512.Sum(sum);
            }
        }
        TensorPrimitives.Subtract(x, shift, destination);
        TensorPrimitives.Exp(destination[..x.Length], destination);
        return TensorPrimitives.Sum(destination[..x.Length]);
    }
}
