using Lathe.Training;
using System.Text;
using Lathe.Evaluation;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tests.Data;
using Lathe.Tokenizers;

namespace Lathe.Tests.Inference;

/// <summary>The loader: each source (checkpoint folder, run folder, Hugging Face folder, GGUF file) gives the model, its
/// tokenizer, template and special ids; each bad folder is one error naming the file; a GGUF exported from a checkpoint
/// scores the checkpoint's loss.</summary>
public class ModelLoaderTests
{
    internal const string Text = "It was the Pequod, with its whale-bone tiller — a strange craft; the Pequod, the whale. Call me Ishmael.\n";

    internal static ModelConfig Gpt2Tiny => new() { ModelType = "gpt2", VocabSize = 300, MaxPositions = 32, Embd = 32, Layers = 1, Heads = 2, KvHeads = 2, Intermediate = 64 };

    /// <summary>A gpt2 checkpoint folder (config.json, model.safetensors, tokenizer.json) with a trained byte-level BPE
    /// whose specials are &lt;|endoftext|&gt;, &lt;s&gt;, &lt;|im_end|&gt;.</summary>
    internal static Tokenizer WriteCheckpoint(string dir, ModelConfig? config = null, int tokenizerSize = 290, ulong seed = 7)
    {
        var tokenizer = new BpeTrainer(tokenizerSize, ["<|endoftext|>", "<s>", "<|im_end|>"], minFrequency: 1).Train([Text, Text]);
        Directory.CreateDirectory(dir);
        TokenizerJson.Save(tokenizer, Path.Combine(dir, Checkpoint.TokenizerFile));
        using var model = LanguageModel.Create(config ?? Gpt2Tiny, seed);
        Checkpoint.SaveModel(dir, model, null);
        return tokenizer;
    }

    static int Special(ITokenizer t, string text) => t.SpecialTokens.Single(s => s.Text == text).Id;

    [Fact]
    public void A_checkpoint_folder_and_its_run_folder_load_the_same_model_and_tokenizer()
    {
        using var dir = new TempDir();
        string ckpt = Path.Combine(dir.Path, "run", Checkpoint.Folder);
        var tokenizer = WriteCheckpoint(ckpt);
        foreach (string path in new[] { ckpt, Path.Combine(dir.Path, "run") })
        {
            using var loaded = ModelLoader.Load(path);
            Assert.Equal("checkpoint", loaded.Format);
            Assert.Equal(ckpt, loaded.Source);
            Assert.IsType<Tokenizer>(loaded.Tokenizer);
            Assert.Equal(300, loaded.Decoder.Config.VocabSize);
            int eot = Special(tokenizer, "<|endoftext|>");
            Assert.Equal(eot, loaded.EosId);
            Assert.Equal([eot], loaded.StopIds);
            Assert.Null(loaded.BosId);
            Assert.False(loaded.AddBos);
            Assert.Null(loaded.ChatTemplate);
            Assert.Equal(Special(tokenizer, "<|im_end|>"), loaded.SpecialId("<|im_end|>"));
            Assert.Null(loaded.SpecialId("<|nope|>"));
            // Prompts: the tokenizer's own encoding, special text parsed unless scoring raw text.
            string prompt = "the whale<|im_end|>";
            Assert.Equal(tokenizer.Encode(prompt, allowSpecial: true), loaded.Encode(prompt));
            Assert.Equal(tokenizer.Encode(prompt, allowSpecial: false), loaded.Encode(prompt, parseSpecial: false));
            Assert.DoesNotContain(Special(tokenizer, "<|im_end|>"), loaded.Encode(prompt, parseSpecial: false));
            // The weights are the checkpoint's.
            using var direct = Checkpoint.LoadModel(ckpt);
            Assert.Equal(direct.Parameters[0].Value.AsSpan().ToArray(), loaded.Model.Parameters[0].Value.AsSpan().ToArray());
        }
    }

    [Theory]
    [InlineData("config.json")]
    [InlineData("model.safetensors")]
    [InlineData("tokenizer.json")]
    public void A_folder_missing_one_of_its_three_files_is_an_error_naming_it(string missing)
    {
        using var dir = new TempDir();
        string ckpt = dir.File("ckpt");
        WriteCheckpoint(ckpt);
        File.Delete(Path.Combine(ckpt, missing));
        var e = Assert.Throws<FileNotFoundException>(() => ModelLoader.Load(ckpt));
        Assert.StartsWith($"{ckpt}: {missing} is missing", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [Fact]
    public void A_path_that_is_nothing_or_no_model_is_a_one_line_error()
    {
        using var dir = new TempDir();
        var missing = Assert.Throws<FileNotFoundException>(() => ModelLoader.Load(dir.File("nothing")));
        Assert.StartsWith(dir.File("nothing") + ": no such file or folder", missing.Message);
        File.WriteAllText(dir.File("notes.txt"), "hello");
        var text = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(dir.File("notes.txt")));
        Assert.StartsWith(dir.File("notes.txt") + ": not a checkpoint folder", text.Message);
    }

    [Fact]
    public void A_tokenizer_larger_than_the_vocabulary_is_an_error_naming_both_sizes()
    {
        using var dir = new TempDir();
        string ckpt = dir.File("ckpt");
        WriteCheckpoint(ckpt, Gpt2Tiny with { VocabSize = 280 }, tokenizerSize: 290);
        var e = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(ckpt));
        Assert.Equal($"{Path.Combine(ckpt, "tokenizer.json")}: the tokenizer has 290 tokens, more than the model's vocab_size 280 (config.json).", e.Message);
        // Smaller is fine: vocab_size is often padded.
        using var dir2 = new TempDir();
        WriteCheckpoint(dir2.File("ckpt"), Gpt2Tiny, tokenizerSize: 290);
        using var loaded = ModelLoader.Load(dir2.File("ckpt"));
        Assert.Equal(290, loaded.Tokenizer.VocabSize);
    }

    [Fact]
    public void A_hugging_face_folder_with_an_unsupported_model_type_is_an_error_naming_config_json()
    {
        using var dir = new TempDir();
        string hf = dir.File("hf");
        WriteCheckpoint(hf);
        File.WriteAllText(Path.Combine(hf, "tokenizer_config.json"), "{}");
        string config = Path.Combine(hf, "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"gpt2\"", "\"mamba\""));
        var e = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(hf));
        Assert.StartsWith($"{config}: model_type: 'mamba' is not one of", e.Message);
    }

    [Fact]
    public void A_hugging_face_folder_reads_the_template_and_special_tokens_of_tokenizer_config_json()
    {
        using var dir = new TempDir();
        string hf = dir.File("hf");
        var tokenizer = WriteCheckpoint(hf);
        const string template = "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}";
        File.WriteAllText(Path.Combine(hf, "tokenizer_config.json"), $$"""
            {"add_bos_token": true, "bos_token": "<s>", "eos_token": {"content": "<|im_end|>", "special": true},
             "pad_token": null, "chat_template": {{System.Text.Json.JsonSerializer.Serialize(template)}}}
            """);
        using var loaded = ModelLoader.Load(hf);
        Assert.Equal("hf", loaded.Format);
        Assert.Equal(template, loaded.ChatTemplate);
        int bos = Special(tokenizer, "<s>"), eos = Special(tokenizer, "<|im_end|>");
        Assert.Equal(bos, loaded.BosId);
        Assert.Equal(eos, loaded.EosId);
        Assert.Null(loaded.PadId);
        Assert.Equal([eos], loaded.StopIds);
        Assert.True(loaded.AddBos);
        // BOS first, once, also when the text already starts with it.
        Assert.Equal([bos, .. tokenizer.Encode("the whale")], loaded.Encode("the whale"));
        Assert.Equal([bos, .. tokenizer.Encode("the whale")], loaded.Encode("<s>the whale"));
        Assert.Equal("chatml", ChatTemplate.Detect(loaded.ChatTemplate).Name);

        // A named-template list: "default" is taken; a token the tokenizer lacks is an error naming the field.
        File.WriteAllText(Path.Combine(hf, "tokenizer_config.json"), """
            {"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}], "eos_token": "<|nope|>"}
            """);
        var e = Assert.Throws<InvalidDataException>(() => ModelLoader.Load(hf));
        Assert.Equal($"{Path.Combine(hf, "tokenizer_config.json")}: eos_token: '<|nope|>' is not a token of tokenizer.json's added_tokens.", e.Message);
        File.WriteAllText(Path.Combine(hf, "tokenizer_config.json"), """
            {"chat_template": [{"name": "tool_use", "template": "T"}, {"name": "default", "template": "D"}]}
            """);
        using var listed = ModelLoader.Load(hf);
        Assert.Equal("D", listed.ChatTemplate);
        Assert.False(listed.AddBos);
        Assert.Equal(Special(tokenizer, "<|endoftext|>"), listed.EosId);   // no eos_token: the tokenizer's end of text
    }

    [Fact]
    public async Task A_chat_session_stops_at_the_models_stop_ids_and_the_templates_end_of_turn_token()
    {
        using var dir = new TempDir();
        string ckpt = dir.File("ckpt");
        var tokenizer = WriteCheckpoint(ckpt, Gpt2Tiny with { MaxPositions = 128 });
        using var loaded = ModelLoader.Load(ckpt);
        using var chatml = new ChatSession(loaded, ChatTemplate.Named("chatml"));
        Assert.Equal([Special(tokenizer, "<|endoftext|>"), Special(tokenizer, "<|im_end|>")], chatml.StopTokens.Order());
        using var plain = new ChatSession(loaded, ChatTemplate.Named("plain"));   // "\nUser:" is no token: a stop string only
        Assert.Equal([Special(tokenizer, "<|endoftext|>")], plain.StopTokens);

        // The prompt of a turn is the template's rendering through LoadedModel.Encode, special markup parsed: a greedy
        // reply equals the generator's on those ids.
        var greedy = new SamplingOptions { Temperature = 0 };
        var pieces = new List<string>();
        await foreach (string piece in chatml.ReplyAsync("the whale", 6, greedy)) pieces.Add(piece);
        int[] prompt = tokenizer.Encode(ChatTemplate.Named("chatml").Render([new ChatMessage("user", "the whale")])).ToArray();
        Assert.Contains(Special(tokenizer, "<|im_end|>"), prompt);   // the markup became its token, not its characters
        using var generator = new Generator(loaded.Decoder);
        int[] expected = generator.Generate(prompt, 6, greedy, chatml.StopTokens).ToArray();
        var streamer = new TextStreamer(tokenizer, ["<|im_end|>"]);
        string text = string.Concat(expected.Where(t => !chatml.StopTokens.Contains(t)).Select(streamer.Push)) + streamer.Flush();
        Assert.Equal(text, string.Concat(pieces));
    }

    [Fact]
    public void An_encoder_loads_for_scoring_but_is_not_a_decoder()
    {
        using var dir = new TempDir();
        string ckpt = dir.File("bert");
        var config = ModelConfig.FromPresetOrFile("bert-tiny");
        WriteCheckpoint(ckpt, config with { VocabSize = Math.Max(config.VocabSize, 300) });
        using var loaded = ModelLoader.Load(ckpt);
        Assert.Equal("bert", loaded.Model.Config.ModelType);
        var e = Assert.Throws<InvalidDataException>(() => loaded.Decoder);
        Assert.Contains("'bert' is not a decoder", e.Message);
        // Scoring takes any architecture: its own objective over the same ids and windows.
        int[] ids = loaded.Encode(Text + Text, parseSpecial: false);
        int T = Math.Min(loaded.Model.Config.MaxPositions, ids.Length - 1);
        var (sum, count) = LossEvaluator.Evaluate(loaded.Model, ids, 2, T);
        var score = TextLoss.Measure(loaded, Encoding.UTF8.GetBytes(Text + Text), 2);
        Assert.Equal(count, score.Tokens);
        Assert.Equal(sum / count, score.Loss, 1e-12);
        Assert.True(double.IsFinite(score.Loss) && score.Loss > 0);
    }

    [Fact]
    public void A_gguf_file_gives_its_own_tokenizer_template_and_stop_ids()
    {
        string path = GgufParityTests.Fixture("spm-f16.gguf");
        using var loaded = ModelLoader.Load(path);
        GgufTokenizer reference;
        using (var file = GgufFile.Open(path)) reference = GgufTokenizer.Read(file);
        Assert.Equal("gguf", loaded.Format);
        var tokenizer = Assert.IsType<GgufTokenizer>(loaded.Tokenizer);
        Assert.Equal(reference.AddBos, loaded.AddBos);
        Assert.Equal(reference.BosId, loaded.BosId);
        Assert.Equal(reference.EosId, loaded.EosId);
        Assert.Contains(reference.EosId, loaded.StopIds);
        Assert.Equal(reference.ChatTemplate, loaded.ChatTemplate);
        // The prompt encoding is llama.cpp's tokenize with add_special and parse_special, as generate used before.
        foreach (string prompt in new[] { "Hello world", " two  spaces", "</s>after" })
            Assert.Equal(reference.Encode(prompt, addSpecial: true, parseSpecial: true), loaded.Encode(prompt));
        Assert.Equal(reference.Encode("</s>x", addSpecial: true, parseSpecial: false), loaded.Encode("</s>x", parseSpecial: false));
        // Weights stay quantized (F16 here) unless asked otherwise.
        Assert.Contains(loaded.Decoder.Linears, l => l.Quantized is not null);
        using var decoded = ModelLoader.Load(path, new LoadOptions { Dequantize = true });
        Assert.DoesNotContain(decoded.Decoder.Linears, l => l.Quantized is not null);
    }

    [Theory]
    [InlineData("gpt2", GgmlType.F32, 1e-6)]    // measured: bit-identical
    [InlineData("llama", GgmlType.F32, 1e-6)]   // measured: bit-identical
    [InlineData("gpt2", GgmlType.Q8_0, 1e-3)]   // measured: 3.9e-5
    [InlineData("llama", GgmlType.Q8_0, 1e-3)]  // measured: 1.0e-4
    public void A_gguf_exported_from_a_checkpoint_scores_the_checkpoints_loss(string modelType, GgmlType type, double relative)
    {
        using var dir = new TempDir();
        string ckpt = dir.File("ckpt"), gguf = dir.File("m.gguf");
        var config = modelType == "gpt2" ? Gpt2Tiny : ModelConfig.FromPresetOrFile("llama-tiny") with { VocabSize = 300, MaxPositions = 32 };
        var tokenizer = WriteCheckpoint(ckpt, config);
        using (var model = Checkpoint.LoadModel(ckpt)) GgufExport.Save(model, tokenizer, gguf, type);
        byte[] text = Encoding.UTF8.GetBytes(Text + Text);

        // Oracle: the checkpoint's loss over the tokenizer's ids, windows of the context, straight through LossEvaluator.
        int[] ids = tokenizer.Encode(Text + Text, allowSpecial: false).ToArray();
        double expected;
        using (var model = Checkpoint.LoadModel(ckpt))
        {
            var (sum, count) = LossEvaluator.Evaluate(model, ids, 4, Math.Min(32, ids.Length - 1));
            Assert.Equal(ids.Length - 1, count);
            expected = sum / count;
        }
        using var fromCheckpoint = ModelLoader.Load(ckpt);
        var a = TextLoss.Measure(fromCheckpoint, text, 4);
        Assert.Equal(expected, a.Loss, 1e-9);
        Assert.Equal(ids.Length - 1, a.Tokens);
        Assert.Equal(expected * a.Tokens / Math.Log(2) / (text.Length - tokenizer.DecodeBytes([ids[0]]).Length), a.BitsPerByte, 1e-9);
        Assert.Equal(Math.Exp(expected), a.Perplexity, 1e-9);

        using var fromGguf = ModelLoader.Load(gguf);
        var b = TextLoss.Measure(fromGguf, text, 4);
        Assert.Equal(a.Tokens, b.Tokens);
        Assert.True(Math.Abs(b.Loss - a.Loss) <= relative * a.Loss, $"{type}: gguf loss {b.Loss} vs checkpoint {a.Loss}");
        if (type == GgmlType.Q8_0) Assert.NotEqual(a.Loss, b.Loss);   // the quantized kernels really ran
    }

    [Fact]
    public void Gguf_tokenizer_offsets_cover_the_text_and_match_each_tokens_bytes()
    {
        foreach (string fixture in new[] { "spm-f16.gguf", "gpt2vocab-f32.gguf" })
        {
            GgufTokenizer tokenizer;
            using (var file = GgufFile.Open(GgufParityTests.Fixture(fixture))) tokenizer = GgufTokenizer.Read(file);
            ITokenizer asInterface = tokenizer;
            foreach (string text in new[] { "Hello world, the whale", "  leading spaces and é中", "a</s>b<s> c" })
            {
                var tokens = asInterface.EncodeWithOffsets(text);
                Assert.Equal(asInterface.Encode(text), tokens.Select(t => t.Id));
                int lastStart = 0, at = 0;
                foreach (var t in tokens)
                {
                    Assert.True(t.Start >= lastStart && t.End >= at && t.End >= t.Start && t.End <= text.Length, $"{fixture} '{text}': span [{t.Start},{t.End}) after [{lastStart},{at})");
                    Assert.True(t.Start <= at, $"{fixture} '{text}': a gap before [{t.Start},{t.End})");
                    string span = text[t.Start..t.End];
                    byte[] bytes = tokenizer.DecodeBytes([t.Id]);
                    string piece = Encoding.UTF8.GetString(bytes);
                    if (tokenizer.SpecialTokens.FirstOrDefault(s => s.Id == t.Id) is { Text: not null } special)
                        Assert.True(span.Length == 0 || span == special.Text, $"{fixture} '{text}': special {t.Id} over '{span}'");
                    else if (piece.Contains('\uFFFD'))
                        // Some bytes of one character: the span is that whole character.
                        Assert.True(span.Length is 1 or 2 && Encoding.UTF8.GetBytes(span).AsSpan().IndexOf(bytes) >= 0, $"{fixture} '{text}': partial token {t.Id} over '{span}'");
                    // An ordinary token's bytes are its span's, but for the ▁ SentencePiece puts before a stretch.
                    else Assert.True(piece == span || piece == " " + span, $"{fixture} '{text}': token {t.Id} '{piece}' over '{span}'");
                    lastStart = t.Start;
                    at = t.End;
                }
                Assert.Equal(text.Length, at);
            }
        }
    }

    [Fact]
    public void A_gguf_byte_level_tokenizer_saves_as_a_tokenizer_json_that_encodes_alike()
    {
        using var dir = new TempDir();
        GgufTokenizer gguf;
        using (var file = GgufFile.Open(GgufParityTests.Fixture("gpt2vocab-f32.gguf"))) gguf = GgufTokenizer.Read(file);
        ((ITokenizer)gguf).Save(dir.File("tokenizer.json"));
        var json = TokenizerJson.LoadAny(dir.File("tokenizer.json"));
        Assert.IsType<Tokenizer>(json);
        Assert.Equal(gguf.VocabSize, json.VocabSize);
        Assert.Contains(gguf.SpecialId("<|endoftext|>")!.Value, gguf.Encode("a<|endoftext|>b", parseSpecial: true));
        foreach (string text in new[] { Text, "  leading spaces, é中 and 🐳 emoji", "ends<|endoftext|>with a special" })
        {
            var ids = gguf.Encode(text, parseSpecial: true);
            Assert.Equal(ids, json.Encode(text, allowSpecial: true));
            Assert.Equal(gguf.Encode(text), json.Encode(text, allowSpecial: false));
            var ordinary = ids.Where(id => !gguf.SpecialTokens.Any(s => s.Id == id)).ToList();
            Assert.Equal(gguf.DecodeBytes(ordinary), json.DecodeBytes(ordinary));
        }

        // SentencePiece has no tokenizer.json form here yet: a clear error, nothing written.
        GgufTokenizer spm;
        using (var file = GgufFile.Open(GgufParityTests.Fixture("spm-f16.gguf"))) spm = GgufTokenizer.Read(file);
        var e = Assert.Throws<NotSupportedException>(() => ((ITokenizer)spm).Save(dir.File("spm.json")));
        Assert.Contains("stays in the GGUF file", e.Message);
        Assert.False(File.Exists(dir.File("spm.json")));
    }
}
