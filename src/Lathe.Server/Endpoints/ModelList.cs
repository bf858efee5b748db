using Lathe.Server.Http;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Endpoints;

/// <summary>GET /v1/models (the base and each adapter) and GET /v1/models/{id} (one, or 404 model_not_found).</summary>
internal static class ModelList
{
    public static Task ListAsync(HttpContext context, ServerState state)
    {
        var model = state.RequireModel();
        return JsonResponse.WriteAsync(context, w =>
        {
            w.WriteStartObject();
            w.WriteString("object", "list");
            w.WriteStartArray("data");
            foreach (string id in model.Ids) WriteModel(w, id, model);
            w.WriteEndArray();
            w.WriteEndObject();
        });
    }

    public static Task GetAsync(HttpContext context, ServerState state)
    {
        var model = state.RequireModel();
        string id = Uri.UnescapeDataString(context.Request.Path.Value![(EndpointNames.Models.Length + 1)..]);
        if (!model.Knows(id)) throw ServedModel.NotFound(id);
        return JsonResponse.WriteAsync(context, w => WriteModel(w, id, model));
    }

    static void WriteModel(System.Text.Json.Utf8JsonWriter w, string id, ServedModel model)
    {
        w.WriteStartObject();
        w.WriteString("id", id);
        w.WriteString("object", "model");
        w.WriteNumber("created", model.Created);
        w.WriteString("owned_by", "lathe");
        w.WriteEndObject();
    }
}
