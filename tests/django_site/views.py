"""The views: plain responses (no templates), a form protected by CSRF."""

import json

from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt


def index(request):
    return HttpResponse("Hello from Django", content_type="text/plain")


def articles(request, year):
    return JsonResponse({"year": year, "path": request.path,
                         "script_name": request.META["SCRIPT_NAME"],
                         "page": request.GET.get("page")})


def form(request):
    if request.method == "POST":
        return JsonResponse({"name": request.POST.get("name"),
                             "langs": request.POST.getlist("lang")})
    # The token goes out in the page and in the csrftoken cookie; a POST
    # must bring both back.
    return JsonResponse({"csrf": get_token(request)})


def go(request):
    return HttpResponseRedirect("/articles/2024/?page=2")


@csrf_exempt
def upload(request):
    # What Django read of the body: it reads CONTENT_LENGTH bytes.
    return HttpResponse(json.dumps({"length": len(request.body),
                                    "body": request.body.decode("latin-1")}),
                        content_type="application/json")


def crash(request):
    raise RuntimeError("the view failed")
