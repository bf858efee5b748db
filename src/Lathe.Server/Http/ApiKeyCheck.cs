using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Http;

/// <summary>With an API key set, every request but GET /health (the readiness probe), the playground page at / (static,
/// no data: its API calls carry the key) and CORS preflights (browsers send them without credentials) must carry
/// <c>Authorization: Bearer KEY</c>; otherwise 401 with OpenAI's error object. The key is compared in constant time.</summary>
internal sealed class ApiKeyCheck(string key)
{
    readonly byte[] _key = Encoding.UTF8.GetBytes(key);

    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        var request = context.Request;
        if (request.Path == EndpointNames.Health || request.Path == EndpointNames.Playground || HttpMethods.IsOptions(request.Method)) { await next(context).ConfigureAwait(false); return; }
        string? header = request.Headers.Authorization;
        const string Scheme = "Bearer ";
        if (header is null || !header.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            await Refuse(context, "You didn't provide an API key. Send it in an Authorization header using Bearer auth (Authorization: Bearer YOUR_KEY).", null);
            return;
        }
        byte[] given = Encoding.UTF8.GetBytes(header.AsSpan(Scheme.Length).Trim().ToString());
        if (!CryptographicOperations.FixedTimeEquals(given, _key))
        {
            await Refuse(context, "Incorrect API key provided.", "invalid_api_key");
            return;
        }
        await next(context).ConfigureAwait(false);
    }

    static Task Refuse(HttpContext context, string message, string? code)
    {
        context.Response.Headers.WWWAuthenticate = "Bearer";
        return ErrorResponses.WriteAsync(context, 401, message, "invalid_request_error", null, code);
    }
}
