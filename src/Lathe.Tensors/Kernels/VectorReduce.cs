using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace Lathe.Tensors.Kernels;

/// <summary>Horizontal reductions of one register, for kernels that reduce short runs in place (exact for max: the
/// order of comparisons does not change the result).</summary>
internal static class VectorReduce
{
    /// <summary>The largest of the sixteen lanes.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Max(Vector512<float> v)
    {
        var v8 = Vector256.Max(v.GetLower(), v.GetUpper());
        var v4 = Vector128.Max(v8.GetLower(), v8.GetUpper());
        return MathF.Max(MathF.Max(v4[0], v4[1]), MathF.Max(v4[2], v4[3]));
    }
}
