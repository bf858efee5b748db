using Lathe.Tensors;

namespace Lathe.Formats.Peft;

/// <summary>One tensor of an adapter: its saved name (PEFT's key, e.g.
/// <c>base_model.model.transformer.h.0.attn.c_attn.lora_A.weight</c>), shape and float values, row-major.</summary>
public sealed record PeftTensor(string Name, int[] Shape, float[] Values)
{
    /// <summary>A copy of <paramref name="value"/>'s shape and data, to be saved under <paramref name="name"/>.</summary>
    public static PeftTensor Of(string name, Tensor value) => new(name, value.Shape.ToArray(), value.ToArray());

    /// <summary>Copies the values into <paramref name="target"/>; another shape is a one-line error naming
    /// <paramref name="file"/>, the tensor and both shapes (an adapter made for another base).</summary>
    public void CopyTo(Tensor target, string file)
    {
        if (!Shape.AsSpan().SequenceEqual(target.Shape))
            throw new InvalidDataException($"{file}: tensor '{Name}' has shape {Tensor.ShapeString(Shape)}; the model needs {Tensor.ShapeString(target.Shape)}");
        Values.CopyTo(target.AsSpan());
    }
}
