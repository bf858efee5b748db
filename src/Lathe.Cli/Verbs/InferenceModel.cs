using Lathe.Formats;
using Lathe.Models;

namespace Lathe.Cli.Verbs;

/// <summary>A decoder and its tokenizer as the inference verbs (generate, chat) need them: text → ids, id → bytes,
/// the end-of-sequence ids and the chat template text, whatever the model was loaded from.</summary>
internal sealed class InferenceModel : IDisposable
{
    public required CausalLM Model { get; init; }
    public required Func<string, int[]> Encode { get; init; }
    public required Func<int, byte[]> TokenBytes { get; init; }
    /// <summary>Ids that end generation (end of text / end of sequence / end of turn).</summary>
    public required HashSet<int> StopTokens { get; init; }
    /// <summary>The model's own chat template (Jinja text), when it carries one.</summary>
    public string? ChatTemplate { get; init; }
    /// <summary>Looks up a special token's id by its text (for end-of-turn markers).</summary>
    public required Func<string, int?> SpecialId { get; init; }

    /// <summary>Loads a Lathe checkpoint folder (config.json, model.safetensors, tokenizer.json) or a .gguf file (llama or gpt2 architecture).</summary>
    public static InferenceModel Open(string path)
    {
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase)) return OpenGguf(path);
        string dir = Checkpoint.Resolve(path);
        string tokenizerPath = Path.Combine(dir, Checkpoint.TokenizerFile);
        var tokenizer = TokenizerJson.LoadAny(tokenizerPath);
        var model = Checkpoint.LoadModel(dir);
        if (tokenizer.VocabSize > model.Config.VocabSize)
        {
            model.Dispose();
            throw new InvalidDataException($"{tokenizerPath}: the tokenizer has {tokenizer.VocabSize} tokens, more than the model's vocab_size {model.Config.VocabSize}.");
        }
        var stops = new HashSet<int>();
        if (tokenizer.EndOfTextId >= 0) stops.Add(tokenizer.EndOfTextId);
        return new InferenceModel
        {
            Model = model,
            Encode = text => tokenizer.Encode(text).ToArray(),
            TokenBytes = id => tokenizer.DecodeBytes([id]),
            StopTokens = stops,
            SpecialId = text => tokenizer.SpecialTokens.Where(s => s.Text == text).Select(s => (int?)s.Id).FirstOrDefault(),
        };
    }

    /// <summary>Loads a GGUF file (llama or gpt2) with the tokenizer of its tokenizer.ggml.* keys (BOS first when the file asks).</summary>
    static InferenceModel OpenGguf(string path)
    {
        using var file = GgufFile.Open(path);
        var tokenizer = GgufTokenizer.Read(file);
        var model = ModelQuantizer.LoadGguf(path);   // F16/Q8_0/Q4_0 weights stay quantized (the fast decode kernels)
        var stops = new HashSet<int>();
        if (tokenizer.EosId >= 0) stops.Add(tokenizer.EosId);
        if (tokenizer.EotId >= 0) stops.Add(tokenizer.EotId);
        return new InferenceModel
        {
            Model = model,
            // Special-token markup in prompts and chat templates is parsed, as llama.cpp's tools do.
            Encode = text => tokenizer.Encode(text, addSpecial: true, parseSpecial: true).ToArray(),
            TokenBytes = id => tokenizer.DecodeBytes([id]),
            StopTokens = stops,
            ChatTemplate = tokenizer.ChatTemplate,
            SpecialId = tokenizer.SpecialId,
        };
    }

    public void Dispose() => Model.Dispose();
}
