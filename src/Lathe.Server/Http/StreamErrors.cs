using Lathe.Server.OpenAi;

namespace Lathe.Server.Http;

/// <summary>An error after a stream has begun (the status line is gone): sent as one last event holding OpenAI's error
/// object, which the official clients raise as an error.</summary>
internal static class StreamErrors
{
    public static async Task SendAsync(SseWriter sse, Exception e, Action<string> log)
    {
        var w = sse.Begin();
        if (e is ApiException api) api.WriteTo(w);
        else ApiException.Write(w, $"internal error ({e.GetType().Name}): {e.Message}", "server_error", null, null);
        if (e is not ApiException) log($"a stream ended with an error: {e}");
        try { await sse.SendAsync().ConfigureAwait(false); }
        catch (Exception x) when (x is IOException or OperationCanceledException) { }   // the client is gone too
    }
}
