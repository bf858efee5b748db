using System.CommandLine;
using System.Diagnostics;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Knowledge;
using Lathe.Knowledge.Grounding;
using Lathe.Tensors.Threading;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe chat`: an interactive conversation with history, streamed replies, /reset and /exit.</summary>
internal static class ChatVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or run folder), Hugging Face folder, or GGUF file.", Required = true };
        var adapterPath = AdapterOption.Create();
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var system = new Option<string?>("--system") { Description = "System prompt." };
        // Chat keeps its repeat penalty of 1.1: small models otherwise tend to repeat themselves across turns.
        var sampling = new SamplingOptionSet(maxTokens: 256, "Tokens per reply at most.", repeatPenalty: 1.1f);
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var kgOptions = new KgOptionSet();
        var command = new Command("chat", "Talk with a model: one line per message; /reset forgets the history, /exit (or end of input) quits.")
        {
            model, adapterPath, template, system, threads,
        };
        sampling.AddTo(command);
        kgOptions.AddTo(command);
        command.SetAction(async (r, cancel) =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException("chat: --threads must be positive.");
            int maxTokens = sampling.ReadMaxTokens(r, "chat");
            var options = sampling.Read(r, "chat");
            var kg = kgOptions.Read(r, "chat");
            using var graph = kg?.Open("chat");
            ComputePool.SetSharedThreads(r.GetValue(threads));
            using var loaded = ModelLoader.Load(r.GetValue(model)!);
            ChatTemplate chatTemplate;
            try { chatTemplate = r.GetValue(template) is { } name ? ChatTemplate.Named(name) : ModelChatTemplate.For(loaded); }
            catch (ArgumentException e) { throw new UserInputException("chat: --template: " + e.Message); }
            using var adapter = AdapterOption.Attach(loaded, r.GetValue(adapterPath), "chat");
            using var session = new ChatSession(loaded, chatTemplate, r.GetValue(system), Lathe.Tuning.TuningMethods.ForDecoding(adapter));
            // Each user turn is read as a question about the graph: the grounded prompt is the turn, under the constraint.
            var grounding = graph is null ? null : new KgGrounding(graph, loaded.Tokenizer, session.StopTokens, kg!.Budget);
            bool interactive = !Console.IsInputRedirected;
            Console.Error.WriteLine($"chat: template {chatTemplate.Name}{(chatTemplate.IsJinja ? " (the model's own Jinja template)" : "")}, context {loaded.Model.Config.MaxPositions} tokens; /reset, /exit");
            bool capNoted = false;
            while (!cancel.IsCancellationRequested)
            {
                if (interactive) Console.Write("> ");
                string? line = Console.ReadLine();
                if (line is null || line.Trim() == "/exit") break;
                if (line.Trim() == "/reset") { session.Reset(); Console.Error.WriteLine("chat: history cleared"); continue; }
                if (line.Trim().Length == 0) continue;
                var watch = Stopwatch.StartNew();
                int pieces = 0;
                string turn = line;
                ILogitsProcessor? processor = null;
                if (grounding is not null)
                {
                    var plan = grounding.Plan(line, kg!.Mode, grounding.FactRoom(line, loaded.Model.Config.MaxPositions, maxTokens));
                    Console.Error.WriteLine(KgOptionSet.Describe("chat", plan));
                    if (plan.AbstainNow) { Console.WriteLine(GroundedPrompt.Abstain); continue; }
                    turn = plan.Prompt;
                    processor = plan.Constraint?.Invoke();
                }
                try
                {
                    bool noted = false;
                    await foreach (string piece in session.ReplyAsync(turn, maxTokens, options, cancel, processor))
                    {
                        if (!noted) noted = NoteFit(session.LastFit, loaded.Model.Config.MaxPositions, ref capNoted);
                        Console.Write(piece);
                        pieces++;
                    }
                    if (!noted) NoteFit(session.LastFit, loaded.Model.Config.MaxPositions, ref capNoted);
                }
                catch (ArgumentException e)
                {
                    // A message too long for the context is refused; the conversation goes on without it.
                    Console.Error.WriteLine(e.Message);
                    continue;
                }
                Console.WriteLine();
                Console.Error.WriteLine($"chat: {session.PromptTokensProcessed} new prompt tokens, {watch.Elapsed.TotalSeconds:F2} s, stop: {session.Reason}");
            }
            return 0;
        });
        return command;
    }

    // Says on stderr when the context shaped a turn: oldest messages dropped (every time), the reply capped (once).
    static bool NoteFit(TurnFit fit, int context, ref bool capNoted)
    {
        if (fit.DroppedMessages > 0)
            Console.Error.WriteLine($"chat: the history outgrew the context of {context} tokens; dropped the {fit.DroppedMessages} oldest message(s)");
        if (fit.ReplyCapped && !capNoted)
        {
            Console.Error.WriteLine($"chat: replies are limited by the context of {context} tokens ({fit.ReplyTokens} this turn, --max-tokens {fit.RequestedTokens})");
            capNoted = true;
        }
        return true;
    }
}
