using Lathe.Tensors.Autograd;

namespace Lathe.Tensors;

// The autograd side of a tensor: a tensor made by an op under a recording tape is also a node of the
// graph. Nodes are not separate objects: the tensor carries its backward function, its inputs and the
// few values the backward needs, so recording allocates nothing once the tape has warmed up.
public sealed unsafe partial class Tensor
{
    /// <summary>Marks a leaf tensor (a parameter) whose gradient <see cref="Tape.Backward"/> accumulates.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>The gradient, contiguous with this tensor's shape. For leaves it accumulates across backward
    /// passes until <see cref="ZeroGrad"/>; for tape-owned tensors it is this step's gradient.</summary>
    public Tensor? Grad { get; internal set; }

    /// <summary>True when a gradient must flow to this tensor: a leaf that requires it, or an op result
    /// recorded on a tape.</summary>
    public bool NeedsGrad => RequiresGrad || BackwardFn != null;

    /// <summary>Whether this tensor's Grad holds a gradient of the current backward pass.</summary>
    internal bool GradValid;
    internal Tape? Owner;

    // The node: backward function and what it reads. The meaning of the slots is the op's own.
    internal delegate*<Tensor, void> BackwardFn;
    internal Tensor? In0, In1, In2, In3;
    internal Tensor? Saved0, Saved1;
    internal float F0, F1;
    internal int I0, I1, I2;
    internal bool B0, B1;
    internal int[] Ints = [];
    /// <summary>An op-specific reference (tables, a parts array). Not cleared between steps, so an op can
    /// reuse what it left there last time.</summary>
    internal object? Extra;
    internal int[] Ints2 = [];

    internal void ClearNode()
    {
        BackwardFn = null;
        In0 = In1 = In2 = In3 = null;
        Saved0 = Saved1 = null;
        F0 = F1 = 0;
        I0 = I1 = I2 = 0;
        B0 = B1 = false;
        GradValid = false;
        RequiresGrad = false;
        Name = null;
    }

    /// <summary>Zeroes the accumulated gradient of a leaf.</summary>
    public void ZeroGrad()
    {
        if (Grad is not null) Kernels.ParallelSpans.Clear(Grad.Data, Grad.Length);
    }

    /// <summary>Frees the gradient buffer of a leaf (a parameter that is frozen from now on).</summary>
    public void ReleaseGrad()
    {
        Grad?.Dispose();
        Grad = null;
        GradValid = false;
    }

    /// <summary>The gradient buffer to add into during backward, created (zeroed) on first use.</summary>
    internal Tensor GradForAccumulate()
    {
        if (Grad is null || Grad.Length != Length || Grad.Rank != Rank || !Grad.Shape.SequenceEqual(Shape))
        {
            // Reshaped in place: a slot whose shape changes from step to step (MoE expert rows) keeps its buffer.
            if (Grad is null) Grad = new Tensor(Shape); else Grad.ResetAsContiguous(Shape);
            Kernels.ParallelSpans.Clear(Grad.Data, Grad.Length);
            GradValid = true;
        }
        else if (!GradValid)
        {
            Kernels.ParallelSpans.Clear(Grad.Data, Grad.Length);
            GradValid = true;
        }
        return Grad;
    }

    /// <summary>The gradient buffer for a backward that writes every element: when this pass has not touched it
    /// yet, <paramref name="overwrite"/> is true and its old contents are garbage to overwrite (saving the clear and
    /// a read); otherwise the caller must add into it.</summary>
    internal Tensor GradForWrite(out bool overwrite)
    {
        if (Grad is null || Grad.Length != Length || Grad.Rank != Rank || !Grad.Shape.SequenceEqual(Shape))
        {
            // Reshaped in place: a slot whose shape changes from step to step (MoE expert rows) keeps its buffer.
            if (Grad is null) Grad = new Tensor(Shape); else Grad.ResetAsContiguous(Shape);
            overwrite = true;
        }
        else overwrite = !GradValid;
        GradValid = true;
        return Grad;
    }

    /// <summary>A tensor that shares this one's values but is cut from the graph.</summary>
    public Tensor Detach() => Ops.Detach(this);
}
