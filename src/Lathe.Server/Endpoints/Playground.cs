using Lathe.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Endpoints;

/// <summary>GET /: the web playground, one self-contained HTML page (Playground/index.html) that talks to the API like
/// any client. The page holds no data, so it is served without the API key; the key the user types into it goes with
/// each of its API calls.</summary>
internal static class Playground
{
    static readonly Lazy<byte[]> s_page = new(() =>
    {
        using var stream = typeof(Playground).Assembly.GetManifestResourceStream("Lathe.Server.Playground.index.html")
            ?? throw new InvalidOperationException("the playground page is missing from the assembly");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    });

    public static Task HandleAsync(HttpContext context, ServerState state)
    {
        _ = state;
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "text/html; charset=utf-8";
        response.Headers.CacheControl = "no-cache";
        response.Headers.XContentTypeOptions = "nosniff";
        return response.Body.WriteAsync(s_page.Value, context.RequestAborted).AsTask();
    }
}
