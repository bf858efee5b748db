using System.Diagnostics;
using Lathe.Inference;
using Lathe.Server.Http;
using Lathe.Server.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Endpoints;

/// <summary>POST /v1/chat/completions: the conversation is rendered with the model's chat template, tokenized and
/// submitted once with <c>n</c> choices (they share the prompt's cache); the reply comes whole or streamed as
/// chat.completion.chunk events. A reply ends at the template's end of turn, a stop string, max_tokens or the context.</summary>
internal static class ChatCompletions
{
    public static async Task HandleAsync(HttpContext context, ServerState state)
    {
        long start = Stopwatch.GetTimestamp();
        var model = state.RequireModel();
        using var body = await RequestBody.ReadJsonAsync(context, state.Options.MaxBodyBytes).ConfigureAwait(false);
        var r = ChatRequest.Parse(body.RootElement, model.VocabSize);
        var g = r.Generation;
        string? adapter = model.AdapterFor(g.Model);
        var (messages, kgConstraint) = KnowledgeBinding.Apply(r, model);   // serve --kg: facts and answer constraint
        int[] prompt = model.Loaded.Encode(model.Template.Render(ConstraintBinding.TemplateMessages(messages), tools: ConstraintBinding.Tools(r.Constraints)));
        var request = new GenerationRequest
        {
            Prompt = prompt,
            MaxTokens = g.MaxTokens ?? GenerationRun.DefaultMaxTokens(model.Engine, prompt.Length),
            Sampling = g.Sampling,
            Choices = g.N,
            StopStrings = [.. g.Stop, .. model.ChatStopStrings],
            StopTokens = model.ChatStopTokens,
            TopLogprobs = r.TopLogprobs,
            Constraint = kgConstraint ?? ConstraintBinding.Constraint(r.Constraints, model.Loaded, [.. model.Engine.StopTokens, .. model.ChatStopTokens]),
            Adapter = adapter,
        };
        // The engine's work ends with the handler however it ends: the client leaving, an error, or done.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        try { await RunAsync(context, state, r, request, model, start, cancel.Token).ConfigureAwait(false); }
        finally { cancel.Cancel(); }
    }

    static async Task RunAsync(HttpContext context, ServerState state, ChatRequest r, GenerationRequest request, ServedModel model,
        long start, CancellationToken cancel)
    {
        var g = r.Generation;
        var stream = GenerationRun.Submit(model.Engine, request, cancel);
        var run = new GenerationRun(stream, g.N, keepLogprobs: !g.Stream && r.TopLogprobs >= 0, state.Metrics, start);
        string id = OpenAiJson.NewId("chatcmpl-"), name = g.Model ?? model.Id;
        long created = OpenAiJson.UnixNow();
        if (g.Stream) await StreamAsync(context, state, r, run, model, id, created, name, cancel).ConfigureAwait(false);
        else
        {
            await run.ReadAllAsync(cancel).ConfigureAwait(false);
            await JsonResponse.WriteAsync(context, w =>
            {
                OpenAiJson.WriteHead(w, id, "chat.completion", created, name);
                w.WriteStartArray("choices");
                for (int i = 0; i < run.Choices.Length; i++)
                {
                    var c = run.Choices[i];
                    var reply = ConstraintBinding.Reply(c.Text.ToString(), r.Constraints, g.Sampling.Seed, i);
                    ChatJson.WriteChoice(w, i, reply, c.Logprobs?.ConvertAll(t => t.Event), model.Tokens, c.Finish ?? FinishReason.Length);
                }
                w.WriteEndArray();
                OpenAiJson.WriteUsage(w, run.Usage);
                w.WriteEndObject();
            }).ConfigureAwait(false);
        }
    }

    static async Task StreamAsync(HttpContext context, ServerState state, ChatRequest r, GenerationRun run, ServedModel model, string id,
        long created, string name, CancellationToken cancel)
    {
        var g = r.Generation;
        bool logprobs = r.TopLogprobs >= 0, hold = ConstraintBinding.HoldsText(r.Constraints);
        using var sse = SseWriter.Start(context);
        // Every choice opens with the assistant role and empty content, as OpenAI's first chunks do.
        for (int i = 0; i < g.N; i++)
        {
            var w = sse.Begin();
            ChatJson.BeginChunk(w, id, created, name);
            ChatJson.WriteChunkChoice(w, i, role: true, "", null, model.Tokens);
            ChatJson.EndChunk(w, g.IncludeUsage);
            await sse.SendAsync().ConfigureAwait(false);
        }
        try
        {
            await foreach (var e in run.ReadAsync(cancel).ConfigureAwait(false))
            {
                if (e.Finish is null)
                {
                    if (hold || (e.Text.Length == 0 && !logprobs)) continue;
                    var w = sse.Begin();
                    ChatJson.BeginChunk(w, id, created, name);
                    ChatJson.WriteChunkChoice(w, e.Choice, role: false, e.Text, logprobs ? e : null, model.Tokens);
                    ChatJson.EndChunk(w, g.IncludeUsage);
                    await sse.SendAsync().ConfigureAwait(false);
                    continue;
                }
                if (e.Finish == FinishReason.Cancelled) continue;
                string? rest = e.Text.Length > 0 ? e.Text : null;
                IReadOnlyList<ToolCallOutput>? calls = null;
                if (hold)
                {
                    var reply = ConstraintBinding.Reply(run.Choices[e.Choice].Text.ToString(), r.Constraints, g.Sampling.Seed, e.Choice);
                    rest = reply.Content is { Length: > 0 } content ? content : null;
                    calls = reply.ToolCalls;
                }
                var last = sse.Begin();
                ChatJson.BeginChunk(last, id, created, name);
                if (rest is not null || calls is { Count: > 0 })
                {
                    // Text held back to the end (a possible stop string that was not one) goes before the finish.
                    ChatJson.WriteChunkChoice(last, e.Choice, role: false, rest, null, model.Tokens, toolCalls: calls);
                    ChatJson.EndChunk(last, g.IncludeUsage);
                    await sse.SendAsync().ConfigureAwait(false);
                    last = sse.Begin();
                    ChatJson.BeginChunk(last, id, created, name);
                }
                ChatJson.WriteChunkChoice(last, e.Choice, role: false, null, null, model.Tokens, e.Finish, calledTools: calls is { Count: > 0 });
                ChatJson.EndChunk(last, g.IncludeUsage);
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
            var w = sse.Begin();
            ChatJson.BeginChunk(w, id, created, name);
            ChatJson.EndChunk(w, includeUsage: true, run.Usage);
            await sse.SendAsync().ConfigureAwait(false);
        }
        await sse.DoneAsync().ConfigureAwait(false);
    }
}
