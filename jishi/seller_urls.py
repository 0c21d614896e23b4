from django.http import HttpResponse
from django.urls import path

app_name = "seller"

urlpatterns = [path("", lambda request: HttpResponse("seller"), name="home")]
