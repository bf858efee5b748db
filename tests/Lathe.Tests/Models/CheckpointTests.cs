using Lathe.Formats;
using Lathe.Models;

namespace Lathe.Tests.Models;

public class CheckpointTests
{
    static ModelConfig Tiny => new() { ModelType = "gpt2", VocabSize = 50, MaxPositions = 8, Embd = 16, Layers = 2, Heads = 2, KvHeads = 2, Intermediate = 64 };

    [Fact]
    public void Save_load_round_trips_bitwise_in_HF_layout()
    {
        string dir = TempDir();
        using var a = CausalLM.Create(Tiny, seed: 7);
        Checkpoint.SaveModel(dir, a, null);
        using (var f = SafetensorsFile.Open(Path.Combine(dir, "model.safetensors")))
        {
            // HF GPT-2 Conv1D: c_attn is (in, out) = (C, 3C).
            Assert.Equal(new long[] { 16, 48 }, f.Get("transformer.h.0.attn.c_attn.weight").Shape);
            Assert.Equal(new long[] { 64, 16 }, f.Get("transformer.h.1.mlp.c_proj.weight").Shape);
            Assert.Equal(new long[] { 50, 16 }, f.Get("transformer.wte.weight").Shape);
        }
        using var b = Checkpoint.LoadModel(dir);
        for (int i = 0; i < a.Parameters.Count; i++)
            Assert.Equal(a.Parameters[i].Value.ToArray(), b.Parameters[i].Value.ToArray());
    }

    [Fact]
    public void Init_is_seeded()
    {
        using var a = CausalLM.Create(Tiny, seed: 7);
        using var b = CausalLM.Create(Tiny, seed: 7);
        using var c = CausalLM.Create(Tiny, seed: 8);
        Assert.Equal(a.Parameters[0].Value.ToArray(), b.Parameters[0].Value.ToArray());
        Assert.NotEqual(a.Parameters[0].Value.ToArray(), c.Parameters[0].Value.ToArray());
    }

    [Fact]
    public void Missing_or_misshaped_tensor_is_a_one_line_error_naming_it()
    {
        string dir = TempDir();
        using var model = CausalLM.Create(Tiny, seed: 7);
        string path = Path.Combine(dir, "model.safetensors");
        var items = model.Parameters.Where(p => p.Name != "transformer.ln_f.bias")
            .Select(p => SafetensorsWriter.F32(p.Name, p.StoredShape, new float[p.Value.Length])).ToList();
        SafetensorsWriter.Write(path, items);
        var e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadWeights(path, model));
        Assert.Equal($"checkpoint: {path}: tensor 'transformer.ln_f.bias' is missing", e.Message);

        items = model.Parameters.Select(p => p.Name == "transformer.wpe.weight"
            ? SafetensorsWriter.F32(p.Name, [4, 16], new float[64])
            : SafetensorsWriter.F32(p.Name, p.StoredShape, new float[p.Value.Length])).ToList();
        SafetensorsWriter.Write(path, items);
        e = Assert.Throws<InvalidDataException>(() => Checkpoint.LoadWeights(path, model));
        Assert.Equal($"checkpoint: {path}: tensor 'transformer.wpe.weight' has shape [4, 16], expected [8, 16]", e.Message);
    }

    [Fact]
    public void Interrupted_swap_leaves_a_loadable_checkpoint()
    {
        string run = TempDir();
        using var model = CausalLM.Create(Tiny, seed: 7);
        Checkpoint.SwapIn(run, d => Checkpoint.SaveModel(d, model, null));
        // Simulate a kill between "move live aside" and "move new into place".
        Directory.Move(Path.Combine(run, "checkpoint"), Path.Combine(run, "checkpoint.old"));
        Directory.CreateDirectory(Path.Combine(run, "checkpoint.tmp"));
        Assert.Equal(Path.Combine(run, "checkpoint.old"), Checkpoint.Find(run));
        using (var loaded = Checkpoint.LoadModel(run)) Assert.Equal(model.Parameters[0].Value.ToArray(), loaded.Parameters[0].Value.ToArray());
        // The next save restores order.
        Checkpoint.SwapIn(run, d => Checkpoint.SaveModel(d, model, null));
        Assert.Equal(Path.Combine(run, "checkpoint"), Checkpoint.Find(run));
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoint.old")));
        Assert.False(Directory.Exists(Path.Combine(run, "checkpoint.tmp")));
    }

    internal static string TempDir()
    {
        string d = Path.Combine(Path.GetTempPath(), "lathe-test-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(d);
        return d;
    }
}
