using System.Text.Json.Nodes;
using Lathe.Formats;
using Lathe.Formats.Peft;
using Lathe.Tensors;

namespace Lathe.Tests.Formats;

/// <summary>The shared PEFT folder I/O every tuning method reads and writes through: a round trip keeps fields and
/// tensors, and each kind of bad folder is one line naming the file and the field or tensor.</summary>
public sealed class PeftAdapterFolderTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("lathe-peft-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static JsonObject Config() => PeftJson.CausalLmConfig("PROMPT_TUNING", new JsonObject
    {
        ["num_virtual_tokens"] = 2,
        ["target_modules"] = PeftJson.List(["a", "b"]),
    });

    static PeftTensor Rows => new("prompt_embeddings", [2, 3], [1, 2, 3, 4, 5, 6]);

    [Fact]
    public void Round_trips_the_config_sorted_and_the_tensors()
    {
        PeftAdapterFolder.Write(_dir, Config(), [Rows]);
        var folder = PeftAdapterFolder.Read(_dir, "PROMPT_TUNING");
        Assert.Equal("PROMPT_TUNING", folder.PeftType);
        Assert.Equal(["base_model_name_or_path", "inference_mode", "num_virtual_tokens", "peft_type", "target_modules", "task_type"], folder.Config.Select(p => p.Key));
        Assert.Equal("CAUSAL_LM", PeftJson.String(folder.Config, "task_type", folder.ConfigPath));
        Assert.True(PeftJson.Bool(folder.Config, "inference_mode", folder.ConfigPath));
        Assert.Null(folder.Config["base_model_name_or_path"]);
        Assert.Equal(["a", "b"], PeftJson.RequiredStringList(folder.Config, "target_modules", folder.ConfigPath));
        folder.ExpectInteger("num_virtual_tokens", 2);
        using var target = Tensor.Zeros(2, 3);
        folder.ReadInto("prompt_embeddings", target);
        Assert.Equal(Rows.Values, target.ToArray());
    }

    [Fact]
    public void A_lathe_state_file_round_trips_through_the_same_tensor_io()
    {
        string path = Path.Combine(_dir, "state.safetensors");
        using var source = Tensor.FromArray([0.5f, -1.5f, 2.25f, 3f], 2, 2);
        PeftAdapterFolder.WriteTensors(path, [PeftTensor.Of("w", source)], format: "lathe");
        using (var file = SafetensorsFile.Open(path)) Assert.Equal("lathe", file.Metadata["format"]);
        using var target = Tensor.Zeros(2, 2);
        PeftAdapterFolder.CopyInto(PeftAdapterFolder.ReadTensors(path), path, "w", target);
        Assert.Equal(source.ToArray(), target.ToArray());
    }

    [Fact]
    public void Bad_folders_are_one_line_errors_naming_the_file_and_the_field_or_tensor()
    {
        PeftAdapterFolder.Write(_dir, Config(), [Rows]);
        string config = Path.Combine(_dir, PeftAdapterFolder.ConfigFile), weights = Path.Combine(_dir, PeftAdapterFolder.WeightsFile);
        var folder = PeftAdapterFolder.Read(_dir);
        AssertOneLine(() => PeftAdapterFolder.Read(_dir, "LORA"), config, "peft_type", "'PROMPT_TUNING'", "LORA");
        AssertOneLine(() => folder.ExpectInteger("num_virtual_tokens", 5), config, "num_virtual_tokens: 2", "needs 5");
        AssertOneLine(() => folder.RequiredInteger("token_dim"), config, "token_dim: missing");
        AssertOneLine(() => folder.RequiredInteger("peft_type"), config, "peft_type", "expected a number");
        AssertOneLine(() => PeftJson.RequiredString(folder.Config, "num_virtual_tokens", config), config, "num_virtual_tokens", "expected a string");
        AssertOneLine(() => PeftJson.RequiredStringList(folder.Config, "peft_type", config), config, "peft_type", "expected a list of strings");
        using (var wrong = Tensor.Zeros(3, 2))
            AssertOneLine(() => folder.ReadInto("prompt_embeddings", wrong), weights, "'prompt_embeddings'", "(2, 3)", "(3, 2)");
        using (var target = Tensor.Zeros(2, 3))
            AssertOneLine(() => folder.ReadInto("prefix", target), weights, "no tensor named 'prefix'");
        File.Delete(weights);
        AssertOneLine(() => PeftAdapterFolder.Read(_dir), weights, "missing");
        File.Delete(config);
        AssertOneLine(() => PeftAdapterFolder.Read(_dir), config, "missing");
    }

    static void AssertOneLine(Action action, params string[] parts)
    {
        var e = Assert.Throws<InvalidDataException>(action);
        foreach (var part in parts) Assert.Contains(part, e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }
}
