using Lathe.Server.OpenAi;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Http;

/// <summary>A whole JSON response written straight into the response's pipe.</summary>
internal static class JsonResponse
{
    public static async Task WriteAsync(HttpContext context, Action<Utf8JsonWriter> write, int status = StatusCodes.Status200OK)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        using (var w = new Utf8JsonWriter(response.BodyWriter, OpenAiJson.WriterOptions)) write(w);
        await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
    }
}
