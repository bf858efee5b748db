using System.Buffers;
using System.Text.Json;
using Lathe.Server.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Http;

/// <summary>Reads a request body as JSON within the size limit: a body over the limit is 413 before it is parsed (by its
/// Content-Length when it states one, else as the bytes arrive), malformed JSON is 400 with the parser's position.</summary>
internal static class RequestBody
{
    static readonly JsonDocumentOptions Options = new() { MaxDepth = 64 };

    public static async Task<JsonDocument> ReadJsonAsync(HttpContext context, long maxBytes)
    {
        var request = context.Request;
        if (request.ContentLength is long declared && declared > maxBytes) throw TooLarge(maxBytes);
        var buffer = new ArrayBufferWriter<byte>(request.ContentLength is long n and > 0 ? (int)n : 4096);
        while (true)
        {
            var memory = buffer.GetMemory(8192);
            int read = await request.Body.ReadAsync(memory, context.RequestAborted).ConfigureAwait(false);
            if (read == 0) break;
            buffer.Advance(read);
            if (buffer.WrittenCount > maxBytes) throw TooLarge(maxBytes);
        }
        if (buffer.WrittenCount == 0) throw new ApiException(400, "request body: is empty; expected a JSON object.");
        try { return JsonDocument.Parse(buffer.WrittenMemory, Options); }
        catch (JsonException e) { throw new ApiException(400, $"request body: invalid JSON ({e.Message})"); }
    }

    public static ApiException TooLarge(long maxBytes) =>
        new(413, $"request body: larger than the {maxBytes} bytes this server accepts.", code: "request_too_large");
}
