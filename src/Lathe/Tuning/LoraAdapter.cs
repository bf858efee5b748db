using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Tuning;

/// <summary>LoRA on one projection (Hu et al. 2021, eq. 3; PEFT's lora.Linear): y + s·(dropout(x)·Aᵀ)·Bᵀ with
/// A (r, in), B (out, r). The base output y comes from the layer (F32, or a frozen quantized matrix under QLoRA);
/// dropout touches only the branch's input and draws its mask seed from the model's <see cref="LanguageModel.DropoutRng"/>
/// as the model's own dropout sites do, so masks follow the trainer's saved generator on resume.</summary>
public sealed class LoraAdapter : ILinearAdapter, IDisposable
{
    readonly LanguageModel _model;

    internal LoraAdapter(LanguageModel model, LinearLayer layer, Tensor a, Tensor b, float scaling, float dropout)
    {
        _model = model; Layer = layer; A = a; B = b; Scaling = scaling; Dropout = dropout;
    }

    /// <summary>The projection this adapter belongs to.</summary>
    public LinearLayer Layer { get; }
    /// <summary>lora_A (r, in).</summary>
    public Tensor A { get; }
    /// <summary>lora_B (out, r).</summary>
    public Tensor B { get; }
    /// <summary>s = alpha/r (or alpha/√r).</summary>
    public float Scaling { get; }
    public float Dropout { get; }

    /// <summary>Whether s·B·A has been added into the layer's weight (<see cref="MergeIntoBase"/>).</summary>
    public bool Merged { get; private set; }

    public Tensor Forward(Tensor x, Tensor y)                                    // x (…, in), y (…, out)
    {
        var h = x;
        if (_model.DropoutRng is { } rng && Dropout > 0)
            h = Ops.Dropout(x, Dropout, ((ulong)rng.NextUInt() << 32) | rng.NextUInt());
        // One op: the tape keeps the (…, r) intermediate and one (…, out) result, not three out-sized tensors. The scale
        // goes on the r-wide intermediate (PEFT scales the out-wide product; the same up to rounding).
        // y is the layer's own base output (LinearLayer hands each adapter a fresh result or a view of a stacked one), and
        // no backward reads a projection's output: the update may go into it in place when the tape owns it.
        return Ops.AddLowRank(y, h, A, B, Scaling, overwriteY: true);          // (…, out)
    }

    /// <summary>W += s·B·A in place (F32 weights only) — ΔW computed the same way by <see cref="UnmergeFromBase"/>, so
    /// unmerging restores W up to one rounding of each element.</summary>
    internal void MergeIntoBase()
    {
        if (Merged) return;
        AddDelta(+1);
        Merged = true;
    }

    internal void UnmergeFromBase()
    {
        if (!Merged) return;
        AddDelta(-1);
        Merged = false;
    }

    void AddDelta(int sign)
    {
        if (Layer.Quantized is not null)
            throw new InvalidOperationException($"lora merge: '{Layer.Name}' runs on {Layer.Quantized.Type} weights; merging needs the F32 base (load the model unquantized, merge, then quantize)");
        int outF = Layer.OutFeatures, inF = Layer.InFeatures, r = A.Dim(0);
        var w = Layer.Weight.AsSpan();                                           // (out, in)
        ReadOnlySpan<float> a = A.AsSpan(), b = B.AsSpan();
        var row = new float[inF];
        for (int o = 0; o < outF; o++)
        {
            // ΔW[o, :] = s·Σ_k B[o, k]·A[k, :], computed the same way each time so unmerge subtracts exactly what merge added.
            Array.Clear(row);
            for (int k = 0; k < r; k++)
            {
                float bk = b[o * r + k];
                if (bk == 0f) continue;
                var ak = a.Slice(k * inF, inF);
                for (int i = 0; i < inF; i++) row[i] += bk * ak[i];
            }
            var wo = w.Slice(o * inF, inF);
            for (int i = 0; i < inF; i++) wo[i] += sign * (Scaling * row[i]);
        }
    }

    public void Dispose()
    {
        if (Layer.Adapter == this) Layer.Adapter = null;
        A.Grad?.Dispose(); B.Grad?.Dispose();
        A.Dispose(); B.Dispose();
    }
}
