using System.CommandLine;
using System.Diagnostics;
using Lathe.Inference;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe chat`: an interactive conversation with history, streamed replies, /reset and /exit.</summary>
internal static class ChatVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or run folder) or GGUF file.", Required = true };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var system = new Option<string?>("--system") { Description = "System prompt." };
        var maxTokens = new Option<int>("--max-tokens") { Description = "Tokens per reply at most.", DefaultValueFactory = _ => 256 };
        var temperature = new Option<float>("--temperature") { Description = "0 = greedy.", DefaultValueFactory = _ => 0.8f };
        var topK = new Option<int>("--top-k") { Description = "0 = off.", DefaultValueFactory = _ => 40 };
        var topP = new Option<float>("--top-p") { Description = "1 = off.", DefaultValueFactory = _ => 0.95f };
        var minP = new Option<float>("--min-p") { Description = "0 = off.", DefaultValueFactory = _ => 0.05f };
        var repeat = new Option<float>("--repeat-penalty") { Description = "1 = off.", DefaultValueFactory = _ => 1.1f };
        var seed = new Option<ulong>("--seed") { Description = "Sampling seed.", DefaultValueFactory = _ => 1 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var command = new Command("chat", "Talk with a model: one line per message; /reset forgets the history, /exit (or end of input) quits.")
        {
            model, template, system, maxTokens, temperature, topK, topP, minP, repeat, seed, threads,
        };
        command.SetAction(async (r, cancel) =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException("chat: --threads must be positive.");
            if (r.GetValue(maxTokens) <= 0) throw new UserInputException("chat: --max-tokens must be positive.");
            ComputePool.SetSharedThreads(r.GetValue(threads));
            using var loaded = InferenceModel.Open(r.GetValue(model)!);
            ChatTemplate chatTemplate;
            try { chatTemplate = r.GetValue(template) is { } name ? ChatTemplate.Named(name) : ChatTemplate.Detect(loaded.ChatTemplate); }
            catch (ArgumentException e) { throw new UserInputException("chat: --template: " + e.Message); }
            var options = new SamplingOptions
            {
                Temperature = r.GetValue(temperature), TopK = r.GetValue(topK), TopP = r.GetValue(topP), MinP = r.GetValue(minP),
                RepetitionPenalty = r.GetValue(repeat), Seed = r.GetValue(seed),
            };
            try { options.Validate(); } catch (ArgumentException e) { throw new UserInputException("chat: " + e.Message); }
            var stops = new HashSet<int>(loaded.StopTokens);
            foreach (string end in chatTemplate.EndOfTurn)
                if (loaded.SpecialId(end) is int id) stops.Add(id);
            using var session = new ChatSession(loaded.Model, chatTemplate, loaded.Encode, loaded.TokenBytes, stops, r.GetValue(system));
            bool interactive = !Console.IsInputRedirected;
            Console.Error.WriteLine($"chat: template {chatTemplate.Name}, context {loaded.Model.Config.MaxPositions} tokens; /reset, /exit");
            while (!cancel.IsCancellationRequested)
            {
                if (interactive) Console.Write("> ");
                string? line = Console.ReadLine();
                if (line is null || line.Trim() == "/exit") break;
                if (line.Trim() == "/reset") { session.Reset(); Console.Error.WriteLine("chat: history cleared"); continue; }
                if (line.Trim().Length == 0) continue;
                var watch = Stopwatch.StartNew();
                int pieces = 0;
                try
                {
                    await foreach (string piece in session.ReplyAsync(line, r.GetValue(maxTokens), options, cancel))
                    {
                        Console.Write(piece);
                        pieces++;
                    }
                }
                catch (ArgumentException e) { throw new UserInputException(e.Message); }
                Console.WriteLine();
                Console.Error.WriteLine($"chat: {session.PromptTokensProcessed} new prompt tokens, {watch.Elapsed.TotalSeconds:F2} s, stop: {session.Reason}");
            }
            return 0;
        });
        return command;
    }
}
