using System.Runtime.InteropServices;
using Lathe.Server.Http;
using Lathe.Server.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Endpoints;

/// <summary>POST /v1/embeddings: each input's pooled, L2-normalised final hidden state from the engine
/// (<see cref="Lathe.Inference.InferenceEngine.EmbedAsync"/>), as float arrays or base64 of little-endian float32.
/// <c>dimensions</c> keeps the first d values and normalises them again, as OpenAI shortens its embeddings.</summary>
internal static class Embeddings
{
    public static async Task HandleAsync(HttpContext context, ServerState state)
    {
        var model = state.RequireModel();
        using var body = await RequestBody.ReadJsonAsync(context, state.Options.MaxBodyBytes).ConfigureAwait(false);
        var r = EmbeddingRequest.Parse(body.RootElement, model.VocabSize);
        if (model.AdapterFor(r.Model) is { } adapter)
            throw ApiException.BadField("model", $"'{adapter}' is an adapter; embeddings come from the base model '{model.Id}'.");
        int width = model.Loaded.Model.Config.Embd;
        if (r.Dimensions is int d && d > width) throw ApiException.BadField("dimensions", $"{d} is more than the model's {width}.");
        var inputs = new int[r.Inputs.Count][];
        int tokens = 0;
        for (int i = 0; i < inputs.Length; i++)
        {
            inputs[i] = r.Inputs[i].Ids ?? model.Loaded.Encode(r.Inputs[i].Text!);
            if (inputs[i].Length == 0) throw ApiException.BadField(inputs.Length == 1 ? "input" : $"input[{i}]", "has no tokens.");
            tokens += inputs[i].Length;
        }
        float[][] vectors;
        try { vectors = await model.Engine.EmbedAsync(inputs, context.RequestAborted).ConfigureAwait(false); }
        catch (ArgumentException e) { throw new ApiException(400, e.Message, GenerationRun.FieldOf(e.Message) ?? "input"); }
        catch (NotSupportedException e)
        {
            // The model cannot embed (an encoder-decoder): the server's shortcoming, said plainly rather than as a crash.
            throw new ApiException(501, e.Message.StartsWith("embeddings", StringComparison.Ordinal) ? e.Message : $"embeddings: {e.Message}",
                code: "not_implemented", type: "server_error");
        }
        await JsonResponse.WriteAsync(context, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            for (int i = 0; i < vectors.Length; i++)
            {
                var v = r.Dimensions is int n ? Shorten(vectors[i], n) : vectors[i];
                w.WriteStartObject();
                w.WriteString("object", "embedding");
                w.WriteNumber("index", i);
                if (r.EncodingFormat == "base64") w.WriteBase64String("embedding", MemoryMarshal.AsBytes(v.AsSpan()));
                else
                {
                    w.WriteStartArray("embedding");
                    foreach (float x in v) w.WriteNumberValue(x);
                    w.WriteEndArray();
                }
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteString("model", r.Model ?? model.Id);
            w.WriteStartObject("usage");
            w.WriteNumber("prompt_tokens", tokens);
            w.WriteNumber("total_tokens", tokens);
            w.WriteEndObject();
            w.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>The first <paramref name="n"/> values of <paramref name="v"/>, L2-normalised again.</summary>
    internal static float[] Shorten(float[] v, int n)
    {
        var s = v.AsSpan(0, n).ToArray();
        double sum = 0;
        foreach (float x in s) sum += (double)x * x;
        if (sum > 0)
        {
            float scale = (float)(1 / Math.Sqrt(sum));
            for (int i = 0; i < s.Length; i++) s[i] *= scale;
        }
        return s;
    }
}
