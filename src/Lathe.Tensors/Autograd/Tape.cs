namespace Lathe.Tensors.Autograd;

/// <summary>The autograd tape and the arena of a training step. While active (<see cref="Activate"/>),
/// every op's result is a slot of the tape, in creation order; <see cref="Backward"/> walks the slots
/// backwards calling each node's backward function. <see cref="Reset"/> rewinds the tape: the next step's
/// ops get the same tensor objects and the same memory back, so a step that repeats the same graph
/// allocates nothing.</summary>
public sealed class Tape : IDisposable
{
    [ThreadStatic] static Tape? t_current;
    [ThreadStatic] static int t_noGradDepth;

    readonly List<Tensor> _slots = [];
    int _cursor;

    /// <summary>The tape ops record on, on this thread, or null.</summary>
    public static Tape? Current => t_current;

    /// <summary>True when ops should build the graph: a tape is active and no <see cref="NoGrad"/> scope is open.</summary>
    public static bool IsRecording => t_current is not null && t_noGradDepth == 0;

    /// <summary>Number of tensors recorded since the last reset.</summary>
    public int Count => _cursor;

    /// <summary>Makes this tape current on this thread until the returned scope is disposed.</summary>
    public Scope Activate()
    {
        var previous = t_current;
        t_current = this;
        return new Scope(previous);
    }

    /// <summary>Suspends graph recording on this thread until disposed (results are still tape-owned
    /// when a tape is active, but carry no backward).</summary>
    public static NoGradScope NoGrad()
    {
        t_noGradDepth++;
        return default;
    }

    public readonly struct Scope(Tape? previous) : IDisposable
    {
        public void Dispose() => t_current = previous;
    }

    public readonly struct NoGradScope : IDisposable
    {
        public void Dispose() => t_noGradDepth--;
    }

    /// <summary>Rewinds the tape for the next step. Tensors it handed out become invalid.</summary>
    public void Reset()
    {
        for (int i = 0; i < _cursor; i++) _slots[i].ClearNode();
        _cursor = 0;
    }

    internal Tensor NextSlot()
    {
        Tensor t;
        if (_cursor < _slots.Count) t = _slots[_cursor];
        else { t = new Tensor { Owner = this }; _slots.Add(t); }
        _cursor++;
        t.ClearNode();
        return t;
    }

    /// <summary>A contiguous result tensor: a tape slot when a tape is active, else a caller-owned tensor.</summary>
    internal static Tensor NewResult(ReadOnlySpan<int> shape)
    {
        if (t_current is { } tape)
        {
            var t = tape.NextSlot();
            t.ResetAsContiguous(shape);
            return t;
        }
        return new Tensor(shape);
    }

    /// <summary>A view result over <paramref name="source"/>'s memory.</summary>
    internal static Tensor NewView(Tensor source, ReadOnlySpan<int> shape, ReadOnlySpan<int> strides, long offset)
    {
        var t = t_current is { } tape ? tape.NextSlot() : new Tensor();
        t.ResetAsView(source, shape, strides, offset);
        return t;
    }

    /// <summary>Back-propagates from <paramref name="loss"/> (one element; its gradient seeded with
    /// <paramref name="seed"/>), accumulating into every leaf that requires grad. <paramref name="observer"/>, when
    /// given, hears of every slot once the backward has passed it (see <see cref="FirstReaders"/>).</summary>
    public unsafe void Backward(Tensor loss, float seed = 1f, IBackwardObserver? observer = null)
    {
        if (loss.Length != 1) throw new ArgumentException($"Backward: loss has shape {Tensor.ShapeString(loss.Shape)}, expected one element.");
        if (loss.Owner != this) throw new InvalidOperationException("Backward: the loss was not recorded on this tape.");
        for (int i = 0; i < _cursor; i++) _slots[i].GradValid = false;
        var g = loss.GradForAccumulate();
        g.AsSpan()[0] += seed;
        using (NoGrad())
        {
            for (int i = _cursor - 1; i >= 0; i--)
            {
                var t = _slots[i];
                if (t.BackwardFn != null && t.GradValid) t.BackwardFn(t);
                observer?.Passed(i);
            }
        }
    }

    readonly Dictionary<Tensor, int> _firstReader = new(ReferenceEqualityComparer.Instance);

    /// <summary>For each leaf, the lowest slot whose node reads it (an input, or a part of a concatenation), or −1
    /// when no recorded node does. The backward walks slots downwards, so once it has passed that slot the leaf's
    /// gradient is final — what lets data-parallel training send a gradient while the backward is still running.</summary>
    public unsafe void FirstReaders(IReadOnlyList<Tensor> leaves, Span<int> slots)
    {
        _firstReader.Clear();
        for (int i = 0; i < _cursor; i++)
        {
            var t = _slots[i];
            if (t.BackwardFn == null) continue;
            Note(t.In0, i); Note(t.In1, i); Note(t.In2, i); Note(t.In3, i);
            if (t.Extra is Tensor[] parts) foreach (var p in parts) Note(p, i);
        }
        for (int j = 0; j < leaves.Count; j++) slots[j] = _firstReader.TryGetValue(leaves[j], out int s) ? s : -1;
    }

    void Note(Tensor? input, int slot)
    {
        if (input is not null && input.Owner != this) _firstReader.TryAdd(input, slot);
    }

    /// <summary>Like <see cref="Backward(Tensor, float)"/> for a loss of any shape, seeded with <paramref name="gradient"/>.</summary>
    public unsafe void Backward(Tensor output, Tensor gradient)
    {
        if (output.Owner != this) throw new InvalidOperationException("Backward: the output was not recorded on this tape.");
        if (!output.Shape.SequenceEqual(gradient.Shape))
            throw new ArgumentException($"Backward: gradient shape {Tensor.ShapeString(gradient.Shape)} differs from output shape {Tensor.ShapeString(output.Shape)}.");
        for (int i = 0; i < _cursor; i++) _slots[i].GradValid = false;
        var g = output.GradForAccumulate();
        var src = gradient.ToArray();
        var dst = g.AsSpan();
        for (int i = 0; i < dst.Length; i++) dst[i] += src[i];
        using (NoGrad())
        {
            for (int i = _cursor - 1; i >= 0; i--)
            {
                var t = _slots[i];
                if (t.BackwardFn != null && t.GradValid) t.BackwardFn(t);
            }
        }
    }

    public void Dispose()
    {
        if (t_current == this) t_current = null;
        foreach (var t in _slots) t.Dispose();
        _slots.Clear();
        _cursor = 0;
    }
}

/// <summary>Hears of the backward's progress: <see cref="Passed"/> is called with each slot index, from the last
/// recorded down to 0, after that slot's backward (if any) has run.</summary>
public interface IBackwardObserver
{
    void Passed(int slot);
}
