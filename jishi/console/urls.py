from django.http import HttpResponse
from django.urls import path

app_name = "console"

urlpatterns = [path("", lambda request: HttpResponse("console"), name="home")]
