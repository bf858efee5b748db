using System.Diagnostics;
using Lathe.Server.Metrics;
using Lathe.Server.OpenAi;
using Microsoft.AspNetCore.Http;

namespace Lathe.Server.Http;

/// <summary>The outermost layer of every request: turns a refused request (<see cref="ApiException"/>, Kestrel's own
/// 400/413) into OpenAI's error object, a client that went away into a quiet end, and anything else into a 500 that is
/// logged — then counts the response by endpoint and status and times it.</summary>
internal sealed class ErrorBoundary(ServerMetrics metrics, Action<string> log)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        long start = Stopwatch.GetTimestamp();
        string endpoint = EndpointNames.Label(context.Request.Path);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        catch (Exception) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (whatever the failed read or write threw); there is no one to answer. Counted under
            // nginx's "client closed request" when nothing was sent yet.
            if (!context.Response.HasStarted) context.Response.StatusCode = 499;
            metrics.CountCancelled(endpoint);
        }
        catch (ApiException e) when (!context.Response.HasStarted)
        {
            if (e.Status == 429) context.Response.Headers.RetryAfter = "1";
            await ErrorResponses.WriteAsync(context, e).ConfigureAwait(false);
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            // Kestrel's own refusals: its body-size limit (413) and malformed HTTP (400).
            var error = e.StatusCode == StatusCodes.Status413PayloadTooLarge
                ? RequestBody.TooLarge(context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize ?? 0)
                : new ApiException(e.StatusCode, $"request: {e.Message}");
            await ErrorResponses.WriteAsync(context, error).ConfigureAwait(false);
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            log($"{context.Request.Method} {context.Request.Path}: {e}");
            await ErrorResponses.WriteAsync(context, 500, $"internal error ({e.GetType().Name}): {e.Message}", "server_error", null, null).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Headers are out (a stream): the endpoint has already sent what it could; end the connection.
            log($"{context.Request.Method} {context.Request.Path} (after the response began): {e}");
            context.Abort();
        }
        finally
        {
            metrics.CountRequest(endpoint, context.Response.StatusCode);
            metrics.RequestDuration.Observe(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
    }
}
