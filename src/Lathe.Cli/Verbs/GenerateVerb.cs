using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Models;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe generate`: continue a prompt with a trained checkpoint (KV-cached decoding), streaming the text.</summary>
internal static class GenerateVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or a run folder holding checkpoint/), or a llama .gguf file.", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text." };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as token ids, e.g. \"1 300 301\"." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens to generate.", DefaultValueFactory = _ => 100 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "0 = off.", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "1 = off.", DefaultValueFactory = _ => 0.95f };
        var minP = new Option<float>("--min-p") { Description = "0 = off.", DefaultValueFactory = _ => 0.05f };
        var repeat = new Option<float>("--repeat-penalty") { Description = "1 = off.", DefaultValueFactory = _ => 1f };
        var frequency = new Option<float>("--frequency-penalty") { Description = "0 = off." };
        var presence = new Option<float>("--presence-penalty") { Description = "0 = off." };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 1 };
        var stop = new Option<string[]>("--stop") { Description = "Stop when the text produces this string.", AllowMultipleArgumentsPerToken = true };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with the token ids and the text." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("generate", "Continue a prompt with a checkpoint (KV cache; greedy, temperature, top-k, top-p, min-p, penalties).")
        {
            model, prompt, promptIds, maxTokens, temperature, topK, topP, minP, repeat, frequency, presence, seed, stop, json, threads,
        };
        command.SetAction(r =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException("generate: --threads must be positive.");
            ComputePool.SetSharedThreads(r.GetValue(threads));
            var (lm, encode, decodeBytes, eosId) = Open(r.GetValue(model)!);
            using var _ = lm;
            int[] ids = PromptIds(r.GetValue(prompt), r.GetValue(promptIds), encode, lm.Config.VocabSize);
            var options = new SamplingOptions
            {
                Temperature = r.GetValue(temperature), TopK = r.GetValue(topK), TopP = r.GetValue(topP), MinP = r.GetValue(minP),
                RepetitionPenalty = r.GetValue(repeat), FrequencyPenalty = r.GetValue(frequency), PresencePenalty = r.GetValue(presence),
                Seed = r.GetValue(seed),
            };
            try { options.Validate(); } catch (ArgumentException e) { throw new UserInputException("generate: " + e.Message); }
            string[] stops = r.GetValue(stop) ?? [];
            var eos = eosId >= 0 ? new HashSet<int> { eosId } : null;
            using var generator = new Generator(lm);
            // Tokens may end inside a UTF-8 character: a stateful decoder holds the partial bytes until it completes.
            var decoder = new UTF8Encoding(false).GetDecoder();
            var text = new StringBuilder();
            var tokens = new List<int>();
            var chars = new char[64];
            var watch = Stopwatch.StartNew();
            bool quiet = r.GetValue(json);
            foreach (int id in generator.Generate(ids, r.GetValue(maxTokens), options, eos))
            {
                tokens.Add(id);
                byte[] bytes = decodeBytes(id);
                if (chars.Length < bytes.Length + 4) chars = new char[bytes.Length + 4];
                int n = decoder.GetChars(bytes, 0, bytes.Length, chars, 0, flush: false);
                string piece = new(chars, 0, n);
                text.Append(piece);
                if (!quiet) Console.Write(piece);
                if (stops.Any(s => text.ToString().Contains(s, StringComparison.Ordinal))) break;
            }
            double seconds = watch.Elapsed.TotalSeconds;
            if (quiet)
            {
                var buffer = new MemoryStream();
                using (var w = new Utf8JsonWriter(buffer))
                {
                    w.WriteStartObject();
                    w.WriteStartArray("tokens");
                    foreach (int t in tokens) w.WriteNumberValue(t);
                    w.WriteEndArray();
                    w.WriteString("text", text.ToString());
                    w.WriteString("stop_reason", generator.Reason.ToString());
                    w.WriteEndObject();
                }
                Console.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
            }
            else Console.WriteLine();
            Console.Error.WriteLine($"generate: {tokens.Count} tokens in {seconds:F2} s ({tokens.Count / Math.Max(seconds, 1e-9):F1} tokens/s, prompt {ids.Length} tokens)");
            return 0;
        });
        return command;
    }

    /// <summary>A model with its text codec: a checkpoint folder with tokenizer.json, or a GGUF file with tokenizer.ggml.*
    /// (whose BOS, when the file asks for one, starts every encoded prompt).</summary>
    static (Lathe.Models.CausalLM Model, Func<string, int[]> Encode, Func<int, byte[]> DecodeBytes, int EosId) Open(string path)
    {
        if (path.EndsWith(".gguf", StringComparison.OrdinalIgnoreCase))
        {
            using var file = GgufFile.Open(path);
            var gguf = GgufTokenizer.Read(file);
            return (GgufModelLoader.Load(file), text => gguf.Encode(text, addSpecial: true).ToArray(), id => gguf.DecodeBytes([id]), gguf.EosId);
        }
        string dir = Checkpoint.Resolve(path);
        var tokenizer = TokenizerJson.Load(Path.Combine(dir, Checkpoint.TokenizerFile));
        return (Checkpoint.LoadModel(dir), text => tokenizer.Encode(text).ToArray(), id => tokenizer.DecodeBytes([id]), tokenizer.EndOfTextId);
    }

    static int[] PromptIds(string? prompt, string? promptIds, Func<string, int[]> encode, int vocab)
    {
        if ((prompt is null) == (promptIds is null)) throw new UserInputException("generate: give exactly one of --prompt or --prompt-ids.");
        if (prompt is not null) return encode(prompt);
        var parts = promptIds!.Split(new[] { ' ', ',' }, StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out ids[i]) || ids[i] < 0 || ids[i] >= vocab)
                throw new UserInputException($"generate: --prompt-ids item '{parts[i]}' is not a token id below {vocab}.");
        return ids;
    }
}
