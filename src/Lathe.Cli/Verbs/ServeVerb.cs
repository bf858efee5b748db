using System.CommandLine;
using System.Runtime.InteropServices;
using Lathe.Formats;
using Lathe.Inference;
using Lathe.Server;
using Lathe.Tensors.Threading;
using Lathe.Tuning;

namespace Lathe.Cli.Verbs;

/// <summary>`lathe serve`: a model (and named adapters) behind the OpenAI-compatible HTTP API until Ctrl-C. The
/// server listens before the model loads, so /health answers 503 until it is ready (docs/SERVING.md).</summary>
internal static class ServeVerb
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "Checkpoint folder (or run folder), Hugging Face folder, or .gguf file.", Required = true };
        var adapters = new Option<string[]>("--adapter") { Description = "An adapter served as model id NAME: NAME=PATH (LoRA/QLoRA, prefix or bottleneck PEFT folder, finetune run folder, or llama.cpp LoRA .gguf); repeat for more.", AllowMultipleArgumentsPerToken = false };
        var name = new Option<string?>("--name") { Description = "The base model's id (default: the file or folder name)." };
        var host = new Option<string>("--host") { Description = "Address to bind (0.0.0.0 opens it to the network).", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "TCP port (0: any free one).", DefaultValueFactory = _ => 8080 };
        var apiKey = new Option<string?>("--api-key") { Description = "Require Authorization: Bearer KEY on every route but /health and the playground page /." };
        var parallel = new Option<int>("--parallel") { Description = "Sequences decoded at once (continuous batching).", DefaultValueFactory = _ => new EngineOptions().Parallel };
        var ctx = new Option<int>("--ctx") { Description = "Tokens one sequence may hold (0: the model's context).", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
        var queue = new Option<int>("--queue") { Description = "Requests that may wait for a slot; more are answered 429.", DefaultValueFactory = _ => new EngineOptions().QueueCapacity };
        var maxBody = new Option<long>("--max-body") { Description = "Largest request body in bytes; larger is answered 413.", DefaultValueFactory = _ => new ServerOptions().MaxBodyBytes };
        var cors = new Option<string?>("--cors") { Description = "Allow this browser origin (e.g. http://localhost:3000, or *) to call the API; off by default." };
        var template = new Option<string?>("--template") { Description = $"Chat template: {string.Join(", ", ChatTemplate.Names)} (default: the model's own, else chatml)." };
        var draft = new Option<string?>("--draft") { Description = "Speculative decoding: a small draft model with the same tokenizer (checkpoint, Hugging Face folder or .gguf) proposes tokens the model verifies in one pass; output unchanged." };
        var draftTokens = new Option<int>("--draft-tokens") { Description = "Tokens the draft proposes per step (1-16).", DefaultValueFactory = _ => new EngineOptions().DraftTokens };
        var kgOptions = new KgOptionSet();
        var command = new Command("serve", "Serve a model over the OpenAI-compatible HTTP API (chat, completions, embeddings, models, health, metrics).")
        {
            model, adapters, name, host, port, apiKey, parallel, ctx, threads, queue, maxBody, cors, template, draft, draftTokens,
        };
        kgOptions.AddTo(command);
        command.SetAction(async (r, cancel) =>
        {
            if (r.GetValue(threads) <= 0) throw new UserInputException("serve: --threads must be positive.");
            var kg = kgOptions.Read(r, "serve");
            using var graph = kg?.Open("serve");   // before listening: a bad graph fails at once; it outlives the server
            var serverOptions = new ServerOptions
            {
                Host = r.GetValue(host)!, Port = r.GetValue(port), ApiKey = r.GetValue(apiKey), MaxBodyBytes = r.GetValue(maxBody),
                CorsOrigin = r.GetValue(cors), ModelName = r.GetValue(name), Template = r.GetValue(template),
                Knowledge = graph is null ? null : new KnowledgeGroundingOptions(graph, kg!.Mode, kg.Budget),
            };
            var engineOptions = new EngineOptions
            {
                Parallel = r.GetValue(parallel), QueueCapacity = r.GetValue(queue), ContextLength = r.GetValue(ctx), DraftTokens = r.GetValue(draftTokens),
            };
            if (r.GetValue(draftTokens) is < 1 or > 16) throw new UserInputException($"serve: --draft-tokens {r.GetValue(draftTokens)} must be in 1-16.");
            string? draftPath = r.GetValue(draft);
            // Checked before listening, as adapters are: a typo fails at once, not after the model has loaded.
            if (draftPath is not null && !File.Exists(draftPath) && !Directory.Exists(draftPath))
                throw new UserInputException($"serve: --draft {draftPath}: no such file or folder.");
            try
            {
                serverOptions.Validate();
                engineOptions.Validate();
                if (serverOptions.Template is { } t) ChatTemplate.Named(t);
            }
            catch (ArgumentException e) { throw new UserInputException("serve: " + e.Message); }
            var adapterList = ParseAdapters(r.GetValue(adapters) ?? []);
            ComputePool.SetSharedThreads(r.GetValue(threads));

            await using var server = await StartAsync(serverOptions, cancel);
            Console.Error.WriteLine($"serve: listening on {server.Address} — loading {r.GetValue(model)} (/health is 503 until ready)");
            using var loaded = ModelLoader.Load(r.GetValue(model)!, new LoadOptions { ContextLength = engineOptions.ContextLength });
            using var adapterSet = adapterList.Count > 0 ? LoadAdapters(loaded, adapterList) : null;
            using var draftModel = draftPath is null ? null : LoadDraft(draftPath, engineOptions.ContextLength);
            using var engine = CreateEngine(loaded, engineOptions, adapterSet, draftModel);
            try { server.Serve(engine); }
            catch (ArgumentException e) { throw new UserInputException("serve: " + e.Message); }
            catch (InvalidDataException e) { throw new UserInputException("serve: " + e.Message); }
            Console.WriteLine($"serve: {server.Address} models: {string.Join(", ", server.ModelIds)}");
            Console.Error.WriteLine($"serve: context {engine.ContextLength} tokens, {engineOptions.Parallel} parallel sequences"
                + (draftModel is null ? "" : $", draft {draftModel.Source} proposing {engineOptions.DraftTokens} tokens a step") + "; Ctrl-C stops");
            // Ctrl-C and SIGTERM (a container's stop) end the wait instead of the process, so the server stops gracefully.
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancel);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            try { await Task.Delay(Timeout.Infinite, stop.Token); }
            catch (OperationCanceledException) { }
            Console.Error.WriteLine("serve: stopping (running requests get a few seconds to finish)");
            await server.StopAsync(CancellationToken.None);
            return 0;
        });
        return command;
    }

    static LoadedModel LoadDraft(string path, int context)
    {
        try { return ModelLoader.Load(path, new LoadOptions { ContextLength = context }); }
        catch (Exception e) when (e is IOException or InvalidDataException or ArgumentException or NotSupportedException or FormatException)
        {
            throw new UserInputException($"serve: --draft {path}: {e.Message}");
        }
    }

    static InferenceEngine CreateEngine(LoadedModel model, EngineOptions options, IAdapterSet? adapters, LoadedModel? draft)
    {
        try { return new InferenceEngine(model, options, adapters, draft); }
        catch (ArgumentException e) { throw new UserInputException("serve: " + e.Message); }
    }

    static async Task<LatheServer> StartAsync(ServerOptions options, CancellationToken cancel)
    {
        try { return await LatheServer.StartAsync(options, cancel: cancel); }
        catch (IOException e) { throw new UserInputException("serve: " + e.Message); }
    }

    // Every --adapter over the base; a bad one is a one-line error naming it (and nothing stays loaded).
    static AdapterSet LoadAdapters(LoadedModel loaded, List<(string Name, string Path)> adapters)
    {
        var set = new AdapterSet(loaded.Model);
        foreach (var (adapterName, path) in adapters)
        {
            try { set.Add(adapterName, path); }
            catch (Exception e) when (e is ArgumentException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
            {
                set.Dispose();
                throw new UserInputException($"serve: --adapter {adapterName}={path}: {e.Message}");
            }
        }
        return set;
    }

    // NAME=PATH pairs; names are model ids, so they must be distinct and non-empty.
    static List<(string Name, string Path)> ParseAdapters(string[] values)
    {
        var result = new List<(string, string)>();
        foreach (string value in values)
        {
            int eq = value.IndexOf('=');
            if (eq <= 0 || eq == value.Length - 1)
                throw new UserInputException($"serve: --adapter '{value}' must be NAME=PATH (the name is the model id requests use).");
            string adapterName = value[..eq];
            if (result.Exists(a => a.Item1 == adapterName)) throw new UserInputException($"serve: --adapter name '{adapterName}' is given twice.");
            string path = value[(eq + 1)..];
            // Checked before the server starts listening, so a mistyped path fails at once.
            if (!File.Exists(path) && !Directory.Exists(path)) throw new UserInputException($"serve: --adapter {value}: no such file or folder.");
            result.Add((adapterName, path));
        }
        return result;
    }
}
