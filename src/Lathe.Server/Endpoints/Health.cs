using Lathe.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Endpoints;

/// <summary>GET /health, the readiness probe: 200 {"status":"ok"} once the model serves, 503 {"status":"loading"}
/// before. Open without the API key, so a load balancer can ask.</summary>
internal static class Health
{
    public static Task HandleAsync(HttpContext context, ServerState state)
    {
        bool ready = state.Model is not null;
        return JsonResponse.WriteAsync(context, w =>
        {
            w.WriteStartObject();
            w.WriteString("status", ready ? "ok" : "loading");
            w.WriteEndObject();
        }, ready ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
    }
}
