using System.Diagnostics;
using System.Threading.Channels;
using Lathe.Inference;
using Lathe.Server.Http;
using Lathe.Server.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Endpoints;

/// <summary>POST /v1/completions: raw text continuation, no chat template. Each prompt is submitted with <c>n</c>
/// choices; choice i of prompt p is index p·n + i. <c>echo</c> puts the prompt before each choice's text; max_tokens 0
/// (allowed here, as OpenAI allows it) generates nothing.</summary>
internal static class Completions
{
    public static async Task HandleAsync(HttpContext context, ServerState state)
    {
        long start = Stopwatch.GetTimestamp();
        var model = state.RequireModel();
        using var body = await RequestBody.ReadJsonAsync(context, state.Options.MaxBodyBytes).ConfigureAwait(false);
        var r = CompletionRequest.Parse(body.RootElement, model.VocabSize);
        var g = r.Generation;
        string? adapter = model.AdapterFor(g.Model);
        var prompts = new int[r.Prompts.Count][];
        var echoes = new string[r.Prompts.Count];
        for (int p = 0; p < prompts.Length; p++)
        {
            var given = r.Prompts[p];
            prompts[p] = given.Ids ?? model.Loaded.Encode(given.Text!);
            if (prompts[p].Length == 0) throw ApiException.BadField(r.Prompts.Count == 1 ? "prompt" : $"prompt[{p}]", "has no tokens.");
            echoes[p] = r.Echo ? given.Text ?? model.Loaded.Tokenizer.Decode(prompts[p]) : "";
        }
        string id = OpenAiJson.NewId("cmpl-"), name = g.Model ?? model.Id;
        long created = OpenAiJson.UnixNow();
        if (g.MaxTokens == 0) { await NothingToGenerateAsync(context, model, r, prompts, echoes, id, created, name).ConfigureAwait(false); return; }

        // Every prompt is submitted before any is read; if one is refused (a full queue) the others are cancelled.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        var runs = new GenerationRun[prompts.Length];
        try
        {
            for (int p = 0; p < prompts.Length; p++)
            {
                var request = new GenerationRequest
                {
                    Prompt = prompts[p], MaxTokens = g.MaxTokens!.Value, Sampling = g.Sampling, Choices = g.N,
                    StopStrings = g.Stop, TopLogprobs = r.Logprobs, Adapter = adapter,
                };
                runs[p] = new GenerationRun(GenerationRun.Submit(model.Engine, request, cancel.Token), g.N,
                    keepLogprobs: !g.Stream && r.Logprobs >= 0, state.Metrics, start);
            }
        }
        catch { cancel.Cancel(); throw; }
        // The engine's work ends with the handler however it ends: the client leaving, an error, or done.
        try { await RespondAsync(context, state, r, runs, echoes, model, id, created, name, cancel.Token).ConfigureAwait(false); }
        finally { cancel.Cancel(); }
    }

    static async Task RespondAsync(HttpContext context, ServerState state, CompletionRequest r, GenerationRun[] runs, string[] echoes,
        ServedModel model, string id, long created, string name, CancellationToken cancel)
    {
        var g = r.Generation;
        if (g.Stream) { await StreamAsync(context, state, r, runs, echoes, model, id, created, name, cancel).ConfigureAwait(false); return; }
        await Task.WhenAll(runs.Select(run => run.ReadAllAsync(cancel))).ConfigureAwait(false);
        var usage = new Usage();
        foreach (var run in runs) usage += run.Usage;
        await JsonResponse.WriteAsync(context, w =>
        {
            CompletionJson.Begin(w, id, created, name);
            for (int p = 0; p < runs.Length; p++)
                for (int i = 0; i < g.N; i++)
                {
                    var c = runs[p].Choices[i];
                    int echo = echoes[p].Length;
                    var tokens = c.Logprobs?.ConvertAll(t => (t.Event, echo + t.TextOffset));
                    CompletionJson.WriteChoice(w, p * g.N + i, echoes[p] + c.Text, tokens, model.Tokens, c.Finish ?? FinishReason.Length);
                }
            CompletionJson.End(w, includeUsage: false, usage);
        }).ConfigureAwait(false);
    }

    static async Task StreamAsync(HttpContext context, ServerState state, CompletionRequest r, GenerationRun[] runs, string[] echoes,
        ServedModel model, string id, long created, string name, CancellationToken cancel)
    {
        var g = r.Generation;
        bool logprobs = r.Logprobs >= 0;
        using var sse = SseWriter.Start(context);
        for (int p = 0; p < runs.Length; p++)
            if (echoes[p].Length > 0)
                for (int i = 0; i < g.N; i++)
                {
                    var w = sse.Begin();
                    CompletionJson.Begin(w, id, created, name);
                    CompletionJson.WriteChoice(w, p * g.N + i, echoes[p], null, model.Tokens, null);
                    CompletionJson.End(w, g.IncludeUsage);
                    await sse.SendAsync().ConfigureAwait(false);
                }
        var one = new (GenerationEvent, int)[1];
        try
        {
            await foreach (var (p, e, offset) in Merge(runs, cancel).ConfigureAwait(false))
            {
                int index = p * g.N + e.Choice;
                if (e.Finish is null)
                {
                    if (e.Text.Length == 0 && !logprobs) continue;
                    one[0] = (e, echoes[p].Length + offset);
                    var w = sse.Begin();
                    CompletionJson.Begin(w, id, created, name);
                    CompletionJson.WriteChoice(w, index, e.Text, logprobs ? one : null, model.Tokens, null);
                    CompletionJson.End(w, g.IncludeUsage);
                    await sse.SendAsync().ConfigureAwait(false);
                    continue;
                }
                if (e.Finish == FinishReason.Cancelled) continue;
                var last = sse.Begin();
                CompletionJson.Begin(last, id, created, name);
                CompletionJson.WriteChoice(last, index, e.Text, null, model.Tokens, e.Finish);
                CompletionJson.End(last, g.IncludeUsage);
                await sse.SendAsync().ConfigureAwait(false);
            }
        }
        catch (Exception e) when (!context.RequestAborted.IsCancellationRequested)
        {
            await StreamErrors.SendAsync(sse, e, state.Log).ConfigureAwait(false);
            return;
        }
        if (g.IncludeUsage)
        {
            var usage = new Usage();
            foreach (var run in runs) usage += run.Usage;
            var w = sse.Begin();
            CompletionJson.Begin(w, id, created, name);
            CompletionJson.End(w, includeUsage: true, usage);
            await sse.SendAsync().ConfigureAwait(false);
        }
        await sse.DoneAsync().ConfigureAwait(false);
    }

    // The events of several runs as they come, each with its prompt's index and where its text starts in its choice's
    // text (read as the run yields it: the run has just appended the event's text). One run is read directly.
    static async IAsyncEnumerable<(int Prompt, GenerationEvent Event, int Offset)> Merge(GenerationRun[] runs,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel)
    {
        if (runs.Length == 1)
        {
            await foreach (var e in runs[0].ReadAsync(cancel).ConfigureAwait(false)) yield return (0, e, Offset(runs[0], e));
            yield break;
        }
        var merged = Channel.CreateUnbounded<(int, GenerationEvent, int)>(new UnboundedChannelOptions { SingleReader = true });
        int open = runs.Length;
        for (int p = 0; p < runs.Length; p++)
        {
            int prompt = p;
            _ = Task.Run(async () =>
            {
                try
                {
                    await foreach (var e in runs[prompt].ReadAsync(cancel).ConfigureAwait(false)) merged.Writer.TryWrite((prompt, e, Offset(runs[prompt], e)));
                    if (Interlocked.Decrement(ref open) == 0) merged.Writer.TryComplete();
                }
                catch (Exception ex) { merged.Writer.TryComplete(ex); }
            }, CancellationToken.None);
        }
        await foreach (var item in merged.Reader.ReadAllAsync(cancel).ConfigureAwait(false)) yield return item;
    }

    static int Offset(GenerationRun run, GenerationEvent e) => run.Choices[e.Choice].Text.Length - e.Text.Length;

    // max_tokens 0: the prompt (with echo) or nothing, finish "length", no engine work; the prompt must still fit.
    static Task NothingToGenerateAsync(HttpContext context, ServedModel model, CompletionRequest r, int[][] prompts, string[] echoes,
        string id, long created, string name)
    {
        var g = r.Generation;
        int promptTokens = 0;
        for (int p = 0; p < prompts.Length; p++)
        {
            if (prompts[p].Length > model.Engine.ContextLength)
                throw ApiException.BadField(prompts.Length == 1 ? "prompt" : $"prompt[{p}]", $"has {prompts[p].Length} tokens, more than the context of {model.Engine.ContextLength}.");
            promptTokens += prompts[p].Length;   // the prompt counts once, whatever n
        }
        if (g.Stream) throw ApiException.BadField("max_tokens", "0 cannot be streamed; ask for a whole response.");
        return JsonResponse.WriteAsync(context, w =>
        {
            CompletionJson.Begin(w, id, created, name);
            for (int p = 0; p < prompts.Length; p++)
                for (int i = 0; i < g.N; i++)
                    CompletionJson.WriteChoice(w, p * g.N + i, echoes[p], null, model.Tokens, FinishReason.Length);
            CompletionJson.End(w, includeUsage: false, new Usage(promptTokens, 0, 0));
        });
    }
}
