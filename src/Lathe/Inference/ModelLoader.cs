using Lathe.Compression;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Models;
using Lathe.Tokenizers;

namespace Lathe.Inference;

/// <summary>How <see cref="ModelLoader.Load"/> builds the model.</summary>
public sealed record LoadOptions
{
    /// <summary>GGUF only: the context length to allocate (0 = the file's <c>*.context_length</c>).</summary>
    public int ContextLength { get; init; }

    /// <summary>GGUF only: decode every weight to F32 instead of keeping F16/Q8_0/Q4_0 linear weights in their stored
    /// type (the quantized kernels generate and llama.cpp run). A checkpoint is always F32.</summary>
    public bool Dequantize { get; init; }
}

/// <summary>The one way to open a model for inference or evaluation: a Lathe checkpoint folder (or a run folder holding
/// checkpoint/), a Hugging Face folder (config.json + model.safetensors + tokenizer.json, with tokenizer_config.json's
/// chat_template / bos_token / eos_token / pad_token / add_bos_token) or a GGUF file. Bad input is one line naming the
/// file and what is wrong with it. The contract is written down in docs/LOADING.md.</summary>
public static class ModelLoader
{
    /// <summary>tokenizer_config.json: Hugging Face's tokenizer settings beside tokenizer.json.</summary>
    public const string TokenizerConfigFile = "tokenizer_config.json";

    /// <summary>Loads the model, tokenizer, chat template and special ids behind <paramref name="path"/>.</summary>
    /// <exception cref="FileNotFoundException">Nothing at the path, or a folder without one of its three files (named).</exception>
    /// <exception cref="InvalidDataException">A malformed or unsupported file, or a tokenizer larger than the model's vocabulary.</exception>
    public static LoadedModel Load(string path, LoadOptions? options = null)
    {
        options ??= new LoadOptions();
        if (Directory.Exists(path)) return LoadFolder(FindFolder(path));
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: no such file or folder (expected a checkpoint folder, a Hugging Face folder or a .gguf file).", path);
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase) || HasGgufMagic(path)) return LoadGguf(path, options);
        throw new InvalidDataException($"{path}: not a checkpoint folder, a Hugging Face folder or a GGUF file.");
    }

    // The folder holding config.json: the path itself, else the checkpoint/ (or checkpoint.old/, left by an interrupted
    // save) of a run folder. Each of the three files missing is named.
    static string FindFolder(string path)
    {
        string dir = path;
        if (!File.Exists(Path.Combine(path, Checkpoint.ConfigFile)))
            foreach (var sub in new[] { Checkpoint.Folder, Checkpoint.Folder + ".old" })
                if (File.Exists(Path.Combine(path, sub, Checkpoint.ConfigFile))) { dir = Path.Combine(path, sub); break; }
        foreach (var file in new[] { Checkpoint.ConfigFile, Checkpoint.ModelFile, Checkpoint.TokenizerFile })
            if (!File.Exists(Path.Combine(dir, file)))
                throw new FileNotFoundException($"{dir}: {file} is missing (a model folder holds {Checkpoint.ConfigFile}, {Checkpoint.ModelFile} and {Checkpoint.TokenizerFile}).",
                    Path.Combine(dir, file));
        return dir;
    }

    static LoadedModel LoadFolder(string dir)
    {
        string tokenizerPath = Path.Combine(dir, Checkpoint.TokenizerFile), settingsPath = Path.Combine(dir, TokenizerConfigFile);
        var tokenizer = TokenizerJson.LoadAny(tokenizerPath);
        var settings = File.Exists(settingsPath) ? TokenizerSettings.Read(settingsPath, tokenizer) : null;
        LanguageModel model;
        try { model = Checkpoint.LoadAny(dir); }
        catch (InvalidDataException e) when (e.Message.StartsWith("config: ", StringComparison.Ordinal))
        {
            // ModelConfig's messages name the field but not the file (it also parses text that has none).
            throw new InvalidDataException($"{Path.Combine(dir, Checkpoint.ConfigFile)}: {e.Message["config: ".Length..]}");
        }
        try
        {
            if (tokenizer.VocabSize > model.Config.VocabSize)
                throw new InvalidDataException($"{tokenizerPath}: the tokenizer has {tokenizer.VocabSize} tokens, more than the model's vocab_size {model.Config.VocabSize} ({Checkpoint.ConfigFile}).");
            if (settings is null)
            {
                // A Lathe checkpoint: the tokenizer's end-of-text token ends generation; nothing is prepended.
                int? eos = tokenizer.EndOfTextId >= 0 ? tokenizer.EndOfTextId : null;
                return new LoadedModel(model, tokenizer, dir, "checkpoint", eosId: eos);
            }
            int? eosId = settings.EosId ?? (tokenizer.EndOfTextId >= 0 ? tokenizer.EndOfTextId : null);
            return new LoadedModel(model, tokenizer, dir, "hf", settings.ChatTemplate, settings.BosId, eosId, settings.PadId,
                settings.AddBos, eosId is int e ? [e] : []);
        }
        catch { model.Dispose(); throw; }
    }

    static LoadedModel LoadGguf(string path, LoadOptions options)
    {
        GgufTokenizer tokenizer;
        using (var file = GgufFile.Open(path)) tokenizer = GgufTokenizer.Read(file);
        // Kept quantized, F16/Q8_0/Q4_0 linear weights run the integer kernels (what generate and llama.cpp run).
        CausalLM model = options.Dequantize ? GgufModelLoader.Load(path, new GgufLoadOptions { ContextLength = options.ContextLength })
            : GgufModelLoader.LoadQuantized(path, options.ContextLength);
        try
        {
            if (tokenizer.VocabSize > model.Config.VocabSize)
                throw new InvalidDataException($"{path}: tokenizer.ggml.tokens has {tokenizer.VocabSize} tokens, more than the model's vocabulary of {model.Config.VocabSize}.");
            // llama.cpp's end-of-generation set: EOS, EOT, EOM and the family's end-of-turn tokens by their text.
            var stops = new List<int>(tokenizer.EndOfGenerationIds);
            return new LoadedModel(model, tokenizer, path, "gguf", tokenizer.ChatTemplate,
                tokenizer.BosId >= 0 ? tokenizer.BosId : null, tokenizer.EosId >= 0 ? tokenizer.EosId : null,
                tokenizer.PadId >= 0 ? tokenizer.PadId : null, tokenizer.AddBos, stops);
        }
        catch { model.Dispose(); throw; }
    }

    static bool HasGgufMagic(string path)
    {
        Span<byte> magic = stackalloc byte[4];
        using var stream = File.OpenRead(path);
        return stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) == 4 && magic.SequenceEqual("GGUF"u8);
    }

    // The fields of a Hugging Face tokenizer_config.json that inference uses.
    sealed record TokenizerSettings(string? ChatTemplate, int? BosId, int? EosId, int? PadId, bool AddBos)
    {
        public static TokenizerSettings Read(string path, ITokenizer tokenizer)
        {
            JsonDocument doc;
            try { doc = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { AllowTrailingCommas = true }); }
            catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message.Split('\n')[0]})."); }
            using (doc)
            {
                var root = doc.RootElement;
                if (root.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: not a JSON object.");
                int? Token(string field)
                {
                    if (!root.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null) return null;
                    // A token is its text, or an AddedToken object {"content": text, …}.
                    string? text = v.ValueKind switch
                    {
                        JsonValueKind.String => v.GetString(),
                        JsonValueKind.Object when v.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
                        _ => throw new InvalidDataException($"{path}: {field}: expected a token text or {{\"content\": text}}."),
                    };
                    foreach (var (t, id) in tokenizer.SpecialTokens) if (t == text) return id;
                    throw new InvalidDataException($"{path}: {field}: '{text}' is not a token of tokenizer.json's added_tokens.");
                }
                bool addBos = false;
                if (root.TryGetProperty("add_bos_token", out var a))
                    addBos = a.ValueKind switch
                    {
                        JsonValueKind.True => true, JsonValueKind.False or JsonValueKind.Null => false,
                        _ => throw new InvalidDataException($"{path}: add_bos_token: expected true or false."),
                    };
                return new TokenizerSettings(Template(root, path), Token("bos_token"), Token("eos_token"), Token("pad_token"), addBos);
            }
        }

        // chat_template is one Jinja text, or a list of {"name", "template"} of which "default" (else the first) is used.
        static string? Template(JsonElement root, string path)
        {
            if (!root.TryGetProperty("chat_template", out var t) || t.ValueKind == JsonValueKind.Null) return null;
            if (t.ValueKind == JsonValueKind.String) return t.GetString();
            if (t.ValueKind == JsonValueKind.Array)
            {
                string? first = null;
                foreach (var item in t.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Object || !item.TryGetProperty("template", out var body) || body.ValueKind != JsonValueKind.String)
                        throw new InvalidDataException($"{path}: chat_template: each item must be {{\"name\", \"template\"}}.");
                    first ??= body.GetString();
                    if (item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default") return body.GetString();
                }
                return first;
            }
            throw new InvalidDataException($"{path}: chat_template: expected a string or a list of named templates.");
        }
    }
}
