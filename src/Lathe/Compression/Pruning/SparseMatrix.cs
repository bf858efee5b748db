using System.Numerics;
using System.Runtime.CompilerServices;

namespace Lathe.Compression.Pruning;

/// <summary>A pruned weight W (out, in) in compressed sparse row form: per row, the column and value of each nonzero.
/// Exists to measure whether unstructured sparsity buys speed on this CPU (`lathe bench prune`), against the engine's
/// dense GEMM at the same shape. Kernels are single-threaded; their scalar twins are <see cref="MultiplyReference"/>.</summary>
public sealed class CsrMatrix
{
    public int Rows { get; }
    public int Columns { get; }
    readonly int[] _rowStart;   // (Rows + 1)
    readonly int[] _column;     // (nnz)
    readonly float[] _value;    // (nnz)

    public int NonZeros => _value.Length;

    /// <summary>From a dense row-major (rows, cols) matrix; exact zeros are dropped.</summary>
    public CsrMatrix(ReadOnlySpan<float> dense, int rows, int cols)
    {
        Rows = rows; Columns = cols;
        _rowStart = new int[rows + 1];
        int nnz = 0;
        foreach (float v in dense) if (v != 0) nnz++;
        _column = new int[nnz];
        _value = new float[nnz];
        int n = 0;
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
                if (dense[r * cols + j] is var v && v != 0) { _column[n] = j; _value[n] = v; n++; }
            _rowStart[r + 1] = n;
        }
    }

    /// <summary>Decode: y (Rows) = W·x (Columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MatVec(ReadOnlySpan<float> x, Span<float> y)
    {
        for (int r = 0; r < Rows; r++)
        {
            float s = 0;
            for (int k = _rowStart[r]; k < _rowStart[r + 1]; k++) s += _value[k] * x[_column[k]];
            y[r] = s;
        }
    }

    /// <summary>Prefill/training: Yᵀ (Rows, N) = W·Xᵀ with Xᵀ (Columns, N) token-minor, so each nonzero is one
    /// vectorised axpy over the N tokens.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MatMul(ReadOnlySpan<float> xT, int N, Span<float> yT)
    {
        yT[..(Rows * N)].Clear();
        for (int r = 0; r < Rows; r++)
        {
            var row = yT.Slice(r * N, N);
            for (int k = _rowStart[r]; k < _rowStart[r + 1]; k++) Axpy(_value[k], xT.Slice(_column[k] * N, N), row);
        }
    }

    internal static void Axpy(float a, ReadOnlySpan<float> x, Span<float> y)
    {
        int i = 0, w = Vector<float>.Count;
        var va = new Vector<float>(a);
        for (; i + w <= y.Length; i += w) (new Vector<float>(y[i..]) + va * new Vector<float>(x[i..])).CopyTo(y[i..]);
        for (; i < y.Length; i++) y[i] += a * x[i];
    }

    /// <summary>The obvious dense twin: Yᵀ (rows, N) = W·Xᵀ, W row-major, Xᵀ (cols, N).</summary>
    public static void MultiplyReference(ReadOnlySpan<float> w, int rows, int cols, ReadOnlySpan<float> xT, int N, Span<float> yT)
    {
        for (int r = 0; r < rows; r++)
            for (int n = 0; n < N; n++)
            {
                double s = 0;
                for (int j = 0; j < cols; j++) s += (double)w[r * cols + j] * xT[j * N + n];
                yT[r * N + n] = (float)s;
            }
    }
}

/// <summary>A 2:4-sparse W (out, in): per group of 4 consecutive inputs the 2 kept values and their positions in
/// 2 bits each (one byte per group: low nibble the first, high nibble the second) — NVIDIA's sparse tensor-core layout
/// (Mishra et al. 2021), here on the CPU to see whether halving the multiplies pays for the indexing.</summary>
public sealed class TwoFourMatrix
{
    public int Rows { get; }
    public int Columns { get; }
    readonly float[] _value;   // (Rows, Columns/2)
    readonly byte[] _index;    // (Rows, Columns/4): i0 | i1 << 2

    /// <summary>From a dense matrix in which every group of 4 holds at most 2 nonzeros (a group with fewer keeps zeros).</summary>
    public TwoFourMatrix(ReadOnlySpan<float> dense, int rows, int cols)
    {
        if (cols % 4 != 0) throw new ArgumentException($"2:4: {cols} columns is not a multiple of 4.");
        Rows = rows; Columns = cols;
        _value = new float[rows * cols / 2];
        _index = new byte[rows * cols / 4];
        for (int g = 0; g < rows * cols / 4; g++)
        {
            int n = 0;
            Span<int> at = [0, 1];
            for (int k = 0; k < 4; k++)
                if (dense[g * 4 + k] != 0)
                {
                    if (n == 2) throw new ArgumentException($"2:4: group {g} (row {g * 4 / cols}) has more than 2 nonzeros.");
                    at[n++] = k;
                }
            if (n == 1 && at[0] == 1) at[1] = 0;   // one nonzero at 1: the other slot points at a zero
            _value[2 * g] = dense[g * 4 + at[0]];
            _value[2 * g + 1] = dense[g * 4 + at[1]];
            _index[g] = (byte)(at[0] | at[1] << 2);
        }
    }

    /// <summary>Decode: y (Rows) = W·x (Columns).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MatVec(ReadOnlySpan<float> x, Span<float> y)
    {
        int groups = Columns / 4;
        for (int r = 0; r < Rows; r++)
        {
            float s = 0;
            int g0 = r * groups;
            for (int g = 0; g < groups; g++)
            {
                int b = _index[g0 + g], xo = g * 4;
                s += _value[2 * (g0 + g)] * x[xo + (b & 3)] + _value[2 * (g0 + g) + 1] * x[xo + (b >> 2)];
            }
            y[r] = s;
        }
    }

    /// <summary>Prefill/training: Yᵀ (Rows, N) = W·Xᵀ with Xᵀ (Columns, N), two axpys per group.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void MatMul(ReadOnlySpan<float> xT, int N, Span<float> yT)
    {
        yT[..(Rows * N)].Clear();
        int groups = Columns / 4;
        for (int r = 0; r < Rows; r++)
        {
            var row = yT.Slice(r * N, N);
            for (int g = 0; g < groups; g++)
            {
                int k = r * groups + g, b = _index[k];
                CsrMatrix.Axpy(_value[2 * k], xT.Slice((g * 4 + (b & 3)) * N, N), row);
                CsrMatrix.Axpy(_value[2 * k + 1], xT.Slice((g * 4 + (b >> 2)) * N, N), row);
            }
        }
    }
}
