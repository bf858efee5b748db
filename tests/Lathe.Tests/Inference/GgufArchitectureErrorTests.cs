using System.Diagnostics;
using Lathe.Formats;
using Lathe.Tests.Data;

namespace Lathe.Tests.Inference;

/// <summary>Bad files of the llama3 / qwen2 / mistral / phi3 architectures are one-line errors naming the file and the
/// tensor or key; what llama.cpp would compute differently (a variant Lathe does not run) is refused, never run wrong.</summary>
public class GgufArchitectureErrorTests
{
    /// <summary>Rewrites an architecture fixture through <see cref="GgufWriter"/> with metadata edited (null drops a key),
    /// tensors dropped, and extra F32 tensors added; kept tensors keep their bytes.</summary>
    static string Variant(TempDir dir, string fixture, Func<string, object, object?>? metadata = null, Func<string, bool>? keep = null,
        params (string Name, long[] Dims)[] added)
    {
        using var source = GgufFile.Open(GgufArchitectureParityTests.Fixture(fixture + "-f16.gguf"));
        var w = new GgufWriter();
        foreach (var (key, value) in source.Metadata)
        {
            var v = metadata is null ? value : metadata(key, value);
            if (v is null) continue;
            w.Add(key, v is object[] items ? Typed(items) : v);
        }
        foreach (var t in source.Tensors)
            if (keep is null || keep(t.Name)) w.AddTensor(t.Name, t.Dims, t.Type, source.Bytes(t).ToArray());
        foreach (var (name, dims) in added)
            w.AddTensor(name, dims, GgmlType.F32, new byte[dims.Aggregate(4L, (a, d) => a * d)]);
        string path = dir.File("bad.gguf");
        w.Save(path);
        return path;
    }

    static Array Typed(object[] items)
    {
        var a = Array.CreateInstance(items[0].GetType(), items.Length);
        for (int i = 0; i < items.Length; i++) a.SetValue(items[i], i);
        return a;
    }

    static string LoadError(string path)
    {
        string message = Assert.Throws<InvalidDataException>(() => GgufModelLoader.Load(path).Dispose()).Message;
        Assert.Contains("bad.gguf", message);
        Assert.Single(message.Split('\n'));
        return message;
    }

    [Fact]
    public void Qwen2_without_a_bias_names_it()
    {
        using var dir = new TempDir();
        Assert.Contains("tensor 'blk.1.attn_k.bias' is missing", LoadError(Variant(dir, "qwen2", keep: n => n != "blk.1.attn_k.bias")));
    }

    [Fact]
    public void Missing_architecture_keys_are_named()
    {
        using var dir = new TempDir();
        Assert.Contains("metadata 'qwen2.block_count' is missing", LoadError(Variant(dir, "qwen2", (k, v) => k == "qwen2.block_count" ? null : v)));
        Assert.Contains("metadata 'phi3.attention.head_count' is missing", LoadError(Variant(dir, "phi3", (k, v) => k == "phi3.attention.head_count" ? null : v)));
    }

    [Fact]
    public void Phi3_without_its_fused_qkv_names_it()
    {
        using var dir = new TempDir();
        Assert.Contains("tensor 'blk.0.attn_qkv.weight' is missing", LoadError(Variant(dir, "phi3", keep: n => n != "blk.0.attn_qkv.weight")));
    }

    /// <summary>Phi-3 128k's LongRoPE factors: refused by name rather than run with the short-context rotation.</summary>
    [Fact]
    public void Phi3_longrope_is_refused_by_name()
    {
        using var dir = new TempDir();
        string message = LoadError(Variant(dir, "phi3", added: ("rope_factors_long.weight", [8])));
        Assert.Contains("tensor 'rope_factors_long.weight'", message);
        Assert.Contains("LongRoPE", message);
    }

    /// <summary>A llama file with q/k/v biases (which llama.cpp would add): the unused tensor is named.</summary>
    [Fact]
    public void A_tensor_the_architecture_does_not_use_is_named()
    {
        using var dir = new TempDir();
        Assert.Contains("tensor 'blk.0.attn_q.bias' is not used by the llama architecture", LoadError(Variant(dir, "mistral-swa", added: ("blk.0.attn_q.bias", [64]))));
    }

    [Fact]
    public void Rope_freqs_of_the_wrong_size_and_yarn_scaling_are_named()
    {
        using var dir = new TempDir();
        Assert.Contains("tensor 'rope_freqs.weight' must be F32 [8]", LoadError(Variant(dir, "llama3", keep: n => n != "rope_freqs.weight", added: ("rope_freqs.weight", [16]))));
        Assert.Contains("llama.rope.scaling.type 'yarn' is not supported", LoadError(VariantWithKey(dir, "llama3", "llama.rope.scaling.type", "yarn")));
    }

    // The fixture with one more metadata key.
    static string VariantWithKey(TempDir dir, string fixture, string key, object value)
    {
        using var source = GgufFile.Open(GgufArchitectureParityTests.Fixture(fixture + "-f16.gguf"));
        var w = new GgufWriter();
        foreach (var (k, v) in source.Metadata) w.Add(k, v is object[] items ? Typed(items) : v);
        w.Add(key, value);
        foreach (var t in source.Tensors) w.AddTensor(t.Name, t.Dims, t.Type, source.Bytes(t).ToArray());
        string path = dir.File("bad.gguf");
        w.Save(path);
        return path;
    }

    /// <summary>llama.cpp reads no sliding window for llama-architecture files (Mistral's), and neither does Lathe; a
    /// Phi-3 window llama.cpp reads and then disables. Both load with full attention.</summary>
    [Fact]
    public void Llama_and_phi3_sliding_window_keys_are_ignored_as_llama_cpp_does()
    {
        using var mistral = GgufModelLoader.Load(GgufArchitectureParityTests.Fixture("mistral-swa-f16.gguf"));
        Assert.Equal(0, mistral.Config.SlidingWindow);
        using var phi3 = GgufModelLoader.Load(GgufArchitectureParityTests.Fixture("phi3-f16.gguf"));
        Assert.Equal(0, phi3.Config.SlidingWindow);
    }

    /// <summary>`lathe generate` on a file of an architecture Lathe does not read: one line naming it, exit code 2.</summary>
    [Fact]
    public void Cli_refuses_an_unknown_architecture_by_name()
    {
        using var dir = new TempDir();
        string path = Variant(dir, "qwen2", (k, v) => k == "general.architecture" ? "mamba" : v);
        var (code, stderr) = Cli("generate", "--model", path, "--prompt", "hello", "--max-tokens", "2");
        Assert.Equal(2, code);
        Assert.Contains("general.architecture 'mamba' is not supported (llama, gpt2, gemma, gemma2, qwen2, phi3)", stderr);
        Assert.Contains("bad.gguf", stderr);
        Assert.Single(stderr.Trim().Split('\n'));
    }

    static (int Code, string Stderr) Cli(params string[] args)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Lathe.Cli.dll"));
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, stderr.Result);
    }
}
