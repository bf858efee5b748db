using System.Text;
using System.Text.Json.Nodes;
using Lathe.Cli.Fuzzing;
using Lathe.Cli.Fuzzing.Targets;
using Lathe.Data;
using Lathe.Evaluation.Tasks;
using Lathe.Formats;
using Lathe.Formats.Peft;
using Lathe.Models;
using Lathe.Tests.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Fuzzing;

/// <summary>Each reader fix the fuzzer led to, with the smallest input that broke it: before the fix each threw an
/// exception type (or a message without the file, or one spanning lines); now each is one line naming the file.</summary>
public class ReaderRegressionTests : IDisposable
{
    readonly TempDir _dir = new();
    public void Dispose() => _dir.Dispose();

    string Write(string name, byte[] bytes) { string p = _dir.File(name); File.WriteAllBytes(p, bytes); return p; }
    string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    static void OneLineNaming(Exception e, string path, string expected)
    {
        Assert.True(e is InvalidDataException, e.ToString());
        Assert.Contains(path, e.Message);
        Assert.Contains(expected, e.Message);
        Assert.DoesNotContain('\n', e.Message);
        Assert.DoesNotContain('\r', e.Message);
    }

    const string Bpe = "\"model\":{\"type\":\"BPE\",\"vocab\":{\"a\":0,\"b\":1},\"merges\":[]}";

    [Theory]
    [InlineData("""{"added_tokens":[5],MODEL}""", "added_tokens entry 0 is not an object")]
    [InlineData("""{"added_tokens":[{"id":1,"content":"<a>"},{"id":1,"content":"<b>"}],MODEL}""", "id 1 appears twice")]
    [InlineData("""{"pre_tokenizer":{"type":"Sequence","pretokenizers":[1]},MODEL}""", "pre_tokenizer.type 'Sequence' is not supported")]
    [InlineData("""{"pre_tokenizer":{},MODEL}""", "pre_tokenizer.type '?' is not supported")]
    [InlineData("{\"model\": tru\n}", "not valid JSON")]
    public void Tokenizer_json_damage_is_one_line_naming_the_file(string json, string expected)
    {
        string path = Write("tokenizer.json", json.Replace("MODEL", Bpe));
        OneLineNaming(Record.Exception(() => TokenizerJson.LoadAny(path))!, path, expected);
    }

    [Fact]
    public void Tokenizer_json_with_invalid_UTF8_names_the_byte_offset()
    {
        byte[] bytes = [.. "{\"model\":{\"type\":\"BPE\",\"vocab\":{\"a"u8, 0xFF, .. "\":0},\"merges\":[]}}"u8];
        string path = Write("tokenizer.json", bytes);
        OneLineNaming(Record.Exception(() => TokenizerJson.LoadAny(path))!, path, "not valid UTF-8 (byte offset 34)");
    }

    [Fact]
    public void A_Metaspace_prepend_scheme_that_is_not_known_names_the_file_and_field()
    {
        var model = new UnigramTrainer(340, ["<unk>"], byteFallback: true, threads: 1).Train([FuzzSeeds.Text]);
        string path = _dir.File("unigram.json");
        UnigramTokenizerJson.Save(model, ["<unk>"], path);
        var root = JsonNode.Parse(File.ReadAllText(path))!;
        static JsonObject? Metaspace(JsonNode? n) => n switch
        {
            JsonObject o when o["type"]?.GetValue<string>() == "Metaspace" => o,
            JsonObject o => o.Select(p => Metaspace(p.Value)).FirstOrDefault(x => x is not null),
            JsonArray a => a.Select(Metaspace).FirstOrDefault(x => x is not null),
            _ => null,
        };
        Metaspace(root)!["prepend_scheme"] = "sometimes";
        File.WriteAllText(path, root.ToJsonString());
        OneLineNaming(Record.Exception(() => TokenizerJson.LoadAny(path))!, path, "prepend_scheme: 'sometimes' is not always, first or never");
    }

    static byte[] Safetensors(string header) => SafetensorsMutators.Join(Encoding.UTF8.GetBytes(header), new byte[4]);

    [Theory]
    [InlineData("""{"t":{"dtype":"F32","shape":["a"],"data_offsets":[0,4]}}""", "bad 'shape'")]
    [InlineData("""{"t":{"dtype":"F32","shape":[1],"data_offsets":["0","4"]}}""", "data_offsets [-1, -1]")]
    [InlineData("""{"__metadata__":5,"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""", "'__metadata__' is not an object")]
    public void Safetensors_fields_of_the_wrong_type_are_one_line_errors(string header, string expected)
    {
        string path = Write("model.safetensors", Safetensors(header));
        OneLineNaming(Record.Exception(() => SafetensorsFile.Open(path).Dispose())!, path, expected);
    }

    [Fact]
    public void A_duplicated_config_field_is_invalid_JSON_naming_the_file()
    {
        string path = Write("config.json", """{"model_type":"gpt2","n_embd":32,"n_embd":64}""");
        OneLineNaming(Record.Exception(() => ModelConfig.Load(path))!, path, "not valid JSON");
    }

    [Fact]
    public void A_config_larger_than_its_weights_is_refused_before_the_model_is_allocated()
    {
        string dir = FuzzSeeds.WriteCheckpoint(_dir.File("ckpt"), FuzzSeeds.Gpt2, FuzzSeeds.Bpe());
        string config = Path.Combine(dir, Checkpoint.ConfigFile);
        // Without model_type the config means GPT-2 with its defaults: 124M parameters against the file's 40 thousand.
        var node = JsonNode.Parse(File.ReadAllText(config))!.AsObject();
        node.Remove("model_type");
        foreach (var field in new[] { "vocab_size", "n_positions", "n_embd", "n_layer", "n_head", "n_inner", "n_ctx" }) node.Remove(field);
        File.WriteAllText(config, node.ToJsonString());
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Record.Exception(() => Checkpoint.LoadAny(dir));
        OneLineNaming(e!, config, "parameters, but");
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20);
    }

    [Theory]
    [InlineData("gpt2-tiny")]
    [InlineData("llama-tiny")]
    [InlineData("bert-tiny")]
    [InlineData("t5-tiny")]
    [InlineData("gpt2-moe-tiny")]
    [InlineData("llama-moe-tiny")]
    public void The_parameter_bound_never_exceeds_a_real_models_count(string preset)
    {
        var config = ModelConfig.FromPresetOrFile(preset);
        using var model = LanguageModel.Create(config, 1);
        Assert.InRange(Checkpoint.MinimumParameters(config), 1, model.ParameterCount);
    }

    [Fact]
    public void A_GGUF_key_with_a_line_break_is_refused_by_its_byte_offset()
    {
        string path = _dir.File("m.gguf");
        new GgufWriter().Add("general\nname", 1u).Save(path);
        OneLineNaming(Record.Exception(() => GgufFile.Open(path).Dispose())!, path, "metadata key 0 at byte 24 holds control characters");
    }

    [Fact]
    public void Mail_in_UTF7_reads_as_an_unknown_charset()
    {
        var bytes = Encoding.ASCII.GetBytes("From: a@example.org\r\nSubject: hi\r\nContent-Type: text/plain; charset=utf-7\r\n\r\nHello +AKM-1\r\n");
        Assert.Contains("Hello", MailMessage.ToText(bytes, new SourceReport(), "m.eml"));
    }

    [Fact]
    public void A_duplicated_adapter_config_field_is_invalid_JSON_naming_the_file()
    {
        Write(PeftAdapterFolder.ConfigFile, """{"peft_type":"LORA","r":8,"r":4}""");
        OneLineNaming(Record.Exception(() => PeftAdapterFolder.ReadConfig(_dir.Path))!, Path.Combine(_dir.Path, PeftAdapterFolder.ConfigFile), "invalid JSON");
    }

    const string Task = """{"task":"NAME","version":1,"documents":"DOCS","output_type":"loglikelihood_rolling","doc_to_target":"{{text}}"}""";

    [Theory]
    [InlineData("Q: capital?\\nA:", "d.jsonl", "field 'task' \"Q: capital?\\nA:\" must be")]
    [InlineData("t", "d\\n.jsonl", "field 'documents' \"d\\n.jsonl\" is not a file name")]
    public void Task_file_values_with_line_breaks_are_quoted_on_one_line(string name, string docs, string expected)
    {
        string path = Write("task.json", Task.Replace("NAME", name).Replace("DOCS", docs));
        OneLineNaming(Record.Exception(() => TaskSpec.Load(path))!, path, expected);
    }

    [Fact]
    public void A_task_file_with_invalid_UTF8_names_the_byte_offset()
    {
        byte[] bytes = [.. "{\"task\":\"t"u8, 0xC0, 0xAF, .. "\"}"u8];
        string path = Write("task.json", bytes);
        OneLineNaming(Record.Exception(() => TaskSpec.Load(path))!, path, "not valid UTF-8 (byte offset 10)");
    }

    /// <summary>The two YAML task files the fuzzer found (seed 20261205 case 119: a duplicated chunk; seed 4 case 815:
    /// junk appended), rebuilt by the fuzzer's own case generator. YamlDotNet throws ArgumentException and
    /// InvalidOperationException on them, not YamlException; the reader now reports both as invalid YAML.</summary>
    [Theory]
    [InlineData(20261205ul, 119)]
    [InlineData(4ul, 815)]
    public void Malformed_YAML_that_YamlDotNet_reports_oddly_is_invalid_YAML_naming_the_file(ulong seed, int index)
    {
        using var target = new TaskTarget();
        target.Prepare(_dir.File("seeds"));
        var (_, files, _) = target.MakeCase(FuzzRandom.ForCase(seed, index));
        string path = Write("task.yaml", files["task.yaml"]);
        var raw = Record.Exception(() => new YamlDotNet.RepresentationModel.YamlStream().Load(new StringReader(File.ReadAllText(path))));
        Assert.True(raw is ArgumentException or InvalidOperationException, $"the input no longer reproduces the finding: {raw}");
        OneLineNaming(Record.Exception(() => TaskSpec.Load(path))!, path, "not valid YAML");
    }
}
