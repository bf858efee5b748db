using Lathe.Server.OpenAi;
using System.Buffers;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Http;

/// <summary>Server-sent events as OpenAI streams them: each event one <c>data: {json}\n\n</c> line pair, flushed at once,
/// the stream ending with <c>data: [DONE]\n\n</c>. One buffer and one JSON writer serve every event of the response.</summary>
internal sealed class SseWriter : IDisposable
{
    static readonly byte[] Prefix = "data: "u8.ToArray(), Suffix = "\n\n"u8.ToArray(), Done = "data: [DONE]\n\n"u8.ToArray();
    readonly HttpResponse _response;
    readonly ArrayBufferWriter<byte> _buffer = new(4096);
    readonly Utf8JsonWriter _json;
    readonly CancellationToken _cancel;

    SseWriter(HttpResponse response, CancellationToken cancel)
    {
        _response = response;
        _cancel = cancel;
        _json = new Utf8JsonWriter(_buffer, OpenAiJson.WriterOptions);
    }

    /// <summary>Sends the 200 and the event-stream headers.</summary>
    public static SseWriter Start(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/event-stream; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";   // a proxy in front must not hold the tokens back
        return new SseWriter(response, context.RequestAborted);
    }

    /// <summary>The writer for the next event's JSON (write exactly one value, then <see cref="SendAsync"/>).</summary>
    public Utf8JsonWriter Begin()
    {
        _buffer.ResetWrittenCount();
        _buffer.Write(Prefix);
        _json.Reset(_buffer);
        return _json;
    }

    public async ValueTask SendAsync()
    {
        _json.Flush();
        _buffer.Write(Suffix);
        await _response.Body.WriteAsync(_buffer.WrittenMemory, _cancel).ConfigureAwait(false);
        await _response.Body.FlushAsync(_cancel).ConfigureAwait(false);
    }

    public async ValueTask DoneAsync()
    {
        await _response.Body.WriteAsync(Done, _cancel).ConfigureAwait(false);
        await _response.Body.FlushAsync(_cancel).ConfigureAwait(false);
    }

    public void Dispose() => _json.Dispose();
}
