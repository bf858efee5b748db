using Lathe.Formats;
using Lathe.Models;
using Lathe.Tensors;

namespace Lathe.Alignment;

/// <summary>PPO's critic: a linear (1, C) weight + bias on the policy's final hidden states, sharing the policy's trunk
/// (TRL's AutoModelForCausalLMWithValueHead, whose tensors are <c>v_head.summary.weight</c>/<c>.bias</c>). It reads the
/// state before each response token and predicts the return from there. Saved as value_head.safetensors beside the
/// policy's own files.</summary>
/// <remarks>Zero-initialised: every value starts at 0, so the first phase's advantages are the plain discounted
/// rewards, and the head learns from its own gradient (the trunk receives none through it until the weight moves).</remarks>
public sealed class ValueHead
{
    public const string FileName = "value_head.safetensors", WeightName = "v_head.summary.weight", BiasName = "v_head.summary.bias";

    public ValueHead(int embd)
    {
        if (embd < 1) throw new ArgumentException($"value head: width {embd} must be ≥ 1");
        Embd = embd;
        Weight = new ModelParameter(WeightName, Tensor.Zeros(1, embd), storedTransposed: false, decay: true);
        Bias = new ModelParameter(BiasName, Tensor.Zeros(1), storedTransposed: false, decay: false);
    }

    public int Embd { get; }
    public ModelParameter Weight { get; }
    public ModelParameter Bias { get; }
    public IReadOnlyList<ModelParameter> Parameters => [Weight, Bias];

    /// <summary>V for each row of <paramref name="hidden"/> (M, C) → (M), on the active tape.</summary>
    public Tensor Values(Tensor hidden)
    {
        int m = hidden.Shape[0];
        return Ops.Reshape(Ops.Linear(hidden, Weight.Value, Bias.Value), m);
    }

    /// <summary>Writes value_head.safetensors into <paramref name="dir"/> (atomically).</summary>
    public void Save(string dir)
    {
        Directory.CreateDirectory(dir);
        SafetensorsWriter.Write(Path.Combine(dir, FileName),
            [SafetensorsWriter.F32(WeightName, [1, Embd], Weight.Value.ToArray()), SafetensorsWriter.F32(BiasName, [1], Bias.Value.ToArray())],
            new Dictionary<string, string> { ["format"] = "pt" });
    }

    /// <summary>Reads value_head.safetensors from <paramref name="dir"/>; a missing file or a tensor of another shape is
    /// a one-line error naming the file.</summary>
    public void Load(string dir)
    {
        string path = Path.Combine(dir, FileName);
        if (!File.Exists(path)) throw new InvalidDataException($"{dir}: no {FileName} (not a PPO checkpoint)");
        using var file = SafetensorsFile.Open(path);
        Read(file, path, WeightName, Weight.Value);
        Read(file, path, BiasName, Bias.Value);
    }

    static void Read(SafetensorsFile file, string path, string name, Tensor into)
    {
        if (!file.Entries.TryGetValue(name, out var e) || e.ElementCount != into.Length)
            throw new InvalidDataException($"{path}: tensor '{name}' must hold {into.Length} values for this model");
        file.ReadFloats(name).CopyTo(into.AsSpan());
    }
}
