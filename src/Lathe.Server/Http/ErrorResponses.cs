using System.Text.Json;
using Lathe.Server.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Http;

/// <summary>Writes OpenAI's error object as a response.</summary>
internal static class ErrorResponses
{
    public static async Task WriteAsync(HttpContext context, int status, string message, string type, string? param, string? code)
    {
        var response = context.Response;
        response.StatusCode = status;
        response.ContentType = "application/json";
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer, OpenAiJson.WriterOptions)) ApiException.Write(w, message, type, param, code);
        await response.Body.WriteAsync(buffer.GetBuffer().AsMemory(0, (int)buffer.Length)).ConfigureAwait(false);
    }

    public static Task WriteAsync(HttpContext context, ApiException e) => WriteAsync(context, e.Status, e.Message, e.Type, e.Param, e.Code);
}
