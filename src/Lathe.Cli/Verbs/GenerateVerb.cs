using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Lathe.Inference;
using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe generate`: continue a prompt with a model (checkpoint, Hugging Face folder or GGUF; KV-cached decoding),
/// streaming the text.</summary>
internal static class GenerateVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or a run folder holding checkpoint/), Hugging Face folder, or .gguf file.", Required = true };
        var adapterPath = AdapterOption.Create();
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text." };
        var promptIds = new Option<string?>("--prompt-ids") { Description = "Prompt as token ids, e.g. \"1 300 301\"." };
        var sampling = new SamplingOptionSet(maxTokens: 100, stopStrings: true);
        var kgOptions = new KgOptionSet();
        var json = new Option<bool>("--json") { Description = "Print one JSON object with the token ids and the text." };
        var beams = new Option<int>("--beams") { Description = "Beam search with this many beams (1 = sample/greedy).", DefaultValueFactory = _ => 1 };
        var lengthPenalty = new Option<float>("--length-penalty") { Description = "Beam score = log p / length^α.", DefaultValueFactory = _ => 1f };
        var earlyStopping = new Option<bool>("--early-stopping") { Description = "Beam search stops once --beams hypotheses finish." };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var draftPath = new Option<string?>("--draft") { Description = "Speculative decoding: a small draft model with the same tokenizer (checkpoint, Hugging Face folder or .gguf) proposes tokens the model verifies in one pass." };
        var draftTokens = new Option<int>("--draft-tokens") { Description = "Tokens the draft proposes per step (1-16).", DefaultValueFactory = _ => 4 };
        var image = new Option<string?>("--image") { Description = "Caption this image (PNG or PGM) with a captioner (--model from lathe vision captioner train)." };
        var draftPMin = new Option<float>("--draft-p-min") { Description = "The draft stops a step's proposals when its most likely token is below this probability (0 = always --draft-tokens).", DefaultValueFactory = _ => 0f };
        var command = new Command("generate", "Continue a prompt with a model (KV cache; greedy, temperature, top-k, top-p, min-p, penalties, beam search, speculative decoding with --draft).")
        {
            model, adapterPath, prompt, promptIds, beams, lengthPenalty, earlyStopping, draftPath, draftTokens, draftPMin, json, threads, image,
        };
        sampling.AddTo(command);
        kgOptions.AddTo(command);
        GenerateImage.AddTo(command);
        command.SetAction(async (r, cancel) =>
        {
            if (GenerateImage.Handles(r.GetValue(model)!)) return GenerateImage.Run(r, r.GetValue(model)!, r.GetValue(prompt), r.GetValue(sampling.Seed), r.GetValue(threads));
            if (r.GetValue(threads) <= 0) throw new UserInputException("generate: --threads must be positive.");
            if (r.GetValue(image) is not null || Lathe.Vision.Inference.Captioner.IsCaptioner(r.GetValue(model)!))   // a captioner: the image's caption
                return VisionCaptioner.Generate(r.GetValue(model)!, r.GetValue(image), sampling.Read(r, "generate"), r.GetResult(sampling.Temperature) is { Implicit: false }, sampling.ReadMaxTokens(r, "generate"), r.GetValue(json));
            if (r.GetValue(draftTokens) is < 1 or > 16) throw new UserInputException($"generate: --draft-tokens {r.GetValue(draftTokens)} must be in 1-16.");
            if (!(r.GetValue(draftPMin) is >= 0 and <= 1)) throw new UserInputException($"generate: --draft-p-min {r.GetValue(draftPMin)} must be in [0, 1].");
            if (r.GetValue(draftPath) is not null && r.GetValue(beams) > 1) throw new UserInputException("generate: --draft and --beams cannot be combined; speculative decoding samples or decodes greedily");
            var options = sampling.Read(r, "generate");
            int maxTokens = sampling.ReadMaxTokens(r, "generate");
            var kg = kgOptions.Read(r, "generate");
            if (kg is not null && (r.GetValue(prompt) is null || r.GetValue(beams) > 1 || r.GetValue(draftPath) is not null))
                throw new UserInputException("generate: --kg needs --prompt (a question) and cannot be combined with --beams or --draft.");
            using var graph = kg?.Open("generate");   // opened before the model loads, so a bad path fails at once
            ComputePool.SetSharedThreads(r.GetValue(threads));
            using var loaded = ModelLoader.Load(r.GetValue(model)!);
            var lm = loaded.Decoder;
            using var adapter = AdapterOption.Attach(loaded, r.GetValue(adapterPath), "generate");
            var promptRows = Lathe.Tuning.TuningMethods.ForDecoding(adapter);
            using var draft = r.GetValue(draftPath) is { } path ? ModelLoader.Load(path) : null;
            if (draft is not null)
            {
                SpeculativeDecoder.CheckVocabularies(loaded, draft);
                if (promptRows is not null) throw new UserInputException("generate: --draft with a prompt-tuning adapter is not supported");
            }
            string? promptText = r.GetValue(prompt);
            ILogitsProcessor? processor = null;
            var stops = sampling.ReadStops(r);
            if (graph is not null)
            {
                var grounding = new KgGrounding(graph, loaded.Tokenizer, loaded.StopIds, kg!.Budget);
                // The facts take what the context leaves beside the question and --max-tokens.
                var plan = grounding.Plan(promptText!, kg.Mode, grounding.FactRoom(promptText!, lm.Config.MaxPositions, maxTokens));
                Console.Error.WriteLine(KgOptionSet.Describe("generate", plan));
                if (plan.AbstainNow) return Abstain(r.GetValue(json));
                promptText = plan.Prompt;
                processor = plan.Constraint?.Invoke();
                stops = [.. stops, GroundedPrompt.AnswerEnd];   // answers are one line
            }
            int[] ids = PromptIds(promptText, r.GetValue(promptIds), loaded, lm.Config.VocabSize);
            // The context bounds the continuation: more asked for than it leaves is capped, with a note, not refused.
            int room = lm.Config.MaxPositions - ids.Length - (promptRows?.Dim(0) ?? 0);
            if (room > 0 && maxTokens > room)
            {
                Console.Error.WriteLine($"generate: the context of {lm.Config.MaxPositions} tokens leaves {room} after the prompt; generating at most {room} (--max-tokens {maxTokens})");
                maxTokens = room;
            }
            var streamer = new TextStreamer(loaded.Tokenizer, stops);
            var tokens = new List<int>();
            bool quiet = r.GetValue(json);
            var watch = Stopwatch.StartNew();
            string reason;
            string? acceptance = null;
            if (r.GetValue(beams) > 1)
            {
                if (promptRows is not null) throw new UserInputException("generate: --beams with a prompt-tuning adapter is not supported; sample or decode greedily");
                var beamOptions = new BeamSearchOptions { Beams = r.GetValue(beams), LengthPenalty = r.GetValue(lengthPenalty), EarlyStopping = r.GetValue(earlyStopping) };
                try { beamOptions.Validate(); } catch (ArgumentException e) { throw new UserInputException("generate: " + e.Message); }
                using var search = new BeamSearch(lm, beamOptions);
                var best = search.Search(ids, maxTokens, loaded.StopIds)[0];
                // Beam search decides the whole sequence before anything is final; print it through the same streamer.
                foreach (int id in best.Tokens)
                {
                    tokens.Add(id);
                    string piece = streamer.Push(id);
                    if (!quiet) Console.Write(piece);
                    if (streamer.Stopped) break;
                }
                string rest = streamer.Flush();
                if (!quiet) Console.Write(rest);
                reason = streamer.Stopped ? "StopString" : best.Finished ? "StopToken" : "MaxTokens";
            }
            else if (draft is not null)
            {
                using var generator = new SpeculativeGenerator(lm, draft.Decoder, r.GetValue(draftTokens), r.GetValue(draftPMin));
                await foreach (var piece in generator.GenerateAsync(ids, maxTokens, options, streamer, loaded.StopIds, cancel))
                {
                    if (piece.TokenId >= 0) tokens.Add(piece.TokenId);
                    if (!quiet) Console.Write(piece.Text);
                }
                reason = generator.Reason.ToString();
                acceptance = $"generate: draft {draft.Source}: {generator.Accepted} of {generator.Proposed} proposed tokens accepted ({100 * generator.AcceptanceRate:F1}%), {generator.Steps} target passes for {tokens.Count} tokens";
            }
            else
            {
                using var generator = new Generator(lm, promptRows);
                await foreach (var piece in generator.GenerateAsync(ids, maxTokens, options, streamer, loaded.StopIds, cancel, processor))
                {
                    if (piece.TokenId >= 0) tokens.Add(piece.TokenId);
                    if (!quiet) Console.Write(piece.Text);
                }
                reason = generator.Reason.ToString();
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
                    w.WriteString("text", streamer.Text);
                    w.WriteString("stop_reason", reason);
                    w.WriteEndObject();
                }
                Console.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
            }
            else Console.WriteLine();
            Console.Error.WriteLine($"generate: {tokens.Count} tokens in {seconds:F2} s ({tokens.Count / Math.Max(seconds, 1e-9):F1} tokens/s, prompt {ids.Length} tokens)");
            if (acceptance is not null) Console.Error.WriteLine(acceptance);
            return 0;
        });
        return command;
    }

    // --kg and the graph cannot answer: the abstention, without asking the model.
    static int Abstain(bool json)
    {
        if (!json) { Console.WriteLine(GroundedPrompt.Abstain); return 0; }
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("tokens");
            w.WriteEndArray();
            w.WriteString("text", GroundedPrompt.Abstain);
            w.WriteString("stop_reason", "Abstained");
            w.WriteEndObject();
        }
        Console.WriteLine(Encoding.UTF8.GetString(buffer.ToArray()));
        return 0;
    }

    static int[] PromptIds(string? prompt, string? promptIds, LoadedModel model, int vocab)
    {
        if (prompt is not null && promptIds is not null) throw new UserInputException("generate: give one of --prompt or --prompt-ids, not both.");
        if (prompt is null && promptIds is null)
        {
            // No prompt: start from the beginning-of-sequence token, as Hugging Face's generate() does without inputs
            // (GPT-2's <|endoftext|> is both its BOS and its EOS, and a Lathe checkpoint names only the latter).
            int start = model.BosId ?? model.EosId
                ?? throw new UserInputException("generate: the model has no BOS or EOS token to start from; give --prompt or --prompt-ids.");
            Console.Error.WriteLine($"generate: no --prompt; starting from token {start} (the model's {(model.BosId is null ? "EOS" : "BOS")})");
            return [start];
        }
        if (prompt is not null) return model.Encode(prompt);
        var parts = promptIds!.Split(new[] { ' ', ',' }, StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
            if (!int.TryParse(parts[i], out ids[i]) || ids[i] < 0 || ids[i] >= vocab)
                throw new UserInputException($"generate: --prompt-ids item '{parts[i]}' is not a token id below {vocab}.");
        return ids;
    }
}
